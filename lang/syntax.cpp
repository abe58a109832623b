#include "lang/syntax.h"

namespace weft {

const char* node_kind_name(NodeKind kind) {
  switch (kind) {
    case NodeKind::Nil:
      return "Nil";
    case NodeKind::Bool:
      return "Bool";
    case NodeKind::Int:
      return "Int";
    case NodeKind::Float:
      return "Float";
    case NodeKind::String:
      return "String";
    case NodeKind::Interpolated:
      return "Interpolated";
    case NodeKind::Symbol:
      return "Symbol";
    case NodeKind::Keyword:
      return "Keyword";
    case NodeKind::Path:
      return "Path";
    case NodeKind::List:
      return "List";
    case NodeKind::Array:
      return "Array";
    case NodeKind::Map:
      return "Map";
  }
  return "?";
}

}  // namespace weft
