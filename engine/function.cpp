#include "engine/function.h"

#include <new>
#include <stdexcept>

#include "engine/exception.h"
#include "engine/map.h"

namespace weft {

void Proto::release_children(DestroyWorklist& worklist) {
  for (Value& k : constants) release_into(k, worklist);
  for (Value& n : positional_names) release_into(n, worklist);
  for (KeywordParam& p : keyword_params) release_into(p.name, worklist);
  constants.clear();
}

static_assert(sizeof(Closure) % alignof(Value) == 0, "captures follow the object directly");

Closure* Closure::make(Proto* proto) {
  const auto count = static_cast<uint32_t>(proto->upvalues.size());
  void* block = ::operator new(sizeof(Closure) + count * sizeof(Value));
  return new (block) Closure(proto, count);
}

Closure::Closure(Proto* proto, uint32_t count)
    : Obj(ObjType::Closure), proto_(proto), count_(count) {
  proto->retain();
  for (uint32_t i = 0; i < count_; ++i) new (captures() + i) Value();
}

Closure::~Closure() {
  for (uint32_t i = 0; i < count_; ++i) captures()[i].~Value();
}

void Closure::release_children(DestroyWorklist& worklist) {
  for (uint32_t i = 0; i < count_; ++i) release_into(captures()[i], worklist);
  if (proto_->release_ref()) worklist.push_back(proto_);
  proto_ = nullptr;
}

void Native::check_keywords(const Map& passed) const {
  for (const Value& key : passed.keys()) {
    const std::string_view name = key.as<String>()->view();
    bool taken = false;
    for (const std::string& keyword : keywords_) taken = taken || keyword == name;
    if (!taken) {
      throw_error(ExcClass::ArgumentException,
                  name_ + " has no parameter named '" + std::string(name) + "'");
    }
  }
}

Value NativeCall::keyword(std::string_view name, Value fallback) const {
  if (keywords == nullptr) return fallback;
  Value out;
  return keywords->find(name, out) ? out : fallback;
}

Module::Module(std::string name) : name_(std::move(name)) { chunks_.reserve(kMaxChunks); }

Module::~Module() {
  // Every task has ended by now (the runtime's shutdown order), so no one
  // else holds these.
  for (size_t i = 0; i < names_.size(); ++i) slot(static_cast<uint32_t>(i)).store(Value());
  chunks_.clear();
  destroy_immortals(immortals_);
}

void Module::clear_globals() {
  for (size_t i = 0; i < names_.size(); ++i) slot(static_cast<uint32_t>(i)).store(Value());
}

uint32_t Module::declare(const std::string& name) {
  auto it = index_.find(name);
  if (it != index_.end()) return it->second;
  uint32_t index = static_cast<uint32_t>(names_.size());
  if (index / kChunkSize >= kMaxChunks) throw std::length_error("too many global variables");
  if (index % kChunkSize == 0) chunks_.push_back(std::make_unique<SharedSlot[]>(kChunkSize));
  slot(index).store(Value::missing());
  names_.push_back(name);
  index_.emplace(name, index);
  return index;
}

int64_t Module::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? -1 : static_cast<int64_t>(it->second);
}

void Module::adopt_immortal(Obj* obj) {
  obj->set_flag(kImmortal);
  std::lock_guard guard(immortals_lock_);
  immortals_.push_back(obj);
}

}  // namespace weft
