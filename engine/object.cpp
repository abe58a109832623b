#include "engine/object.h"

namespace weft {

namespace {

void drain(DestroyWorklist& worklist) {
  while (!worklist.empty()) {
    Obj* obj = worklist.take();
    obj->release_children(worklist);
    delete obj;
  }
}

}  // namespace

void destroy_object(Obj* root) {
  DestroyWorklist worklist{root};
  drain(worklist);
}

void destroy_immortals(const std::vector<Obj*>& immortals) {
  DestroyWorklist worklist;
  for (Obj* obj : immortals) {
    obj->release_children(worklist);
    drain(worklist);
  }
  for (Obj* obj : immortals) delete obj;
}

}  // namespace weft
