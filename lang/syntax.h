// The syntax tree: S-expressions with source positions. The reader makes
// them; the compiler reads special forms straight off them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lang/source.h"

namespace weft {

enum class NodeKind : uint8_t {
  Nil,
  Bool,
  Int,
  Float,
  String,        // text: the decoded string
  Interpolated,  // children: String nodes (literal parts) and expressions, in order
  Symbol,        // text: the name; ".name" for a method selector; operators too
  Keyword,       // text: the name without '^' (^port); the value is the next node
  Path,          // children[0]: Symbol (the root); then one per segment:
                 //   Int (index), String (key), Symbol ".name" (method call)
  List,          // ( ... )
  Array,         // [ ... ]
  Map,           // { ... }: alternating Keyword and value nodes
};

struct Node;
using NodePtr = std::unique_ptr<Node>;

struct Node {
  NodeKind kind = NodeKind::Nil;
  SourceLoc loc;
  bool bool_value = false;
  int64_t int_value = 0;
  double float_value = 0;
  std::string text;
  std::vector<NodePtr> children;

  bool is_symbol(const char* name) const { return kind == NodeKind::Symbol && text == name; }
};

const char* node_kind_name(NodeKind kind);

}  // namespace weft
