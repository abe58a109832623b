// The trace recorder; the protocol is in trace_recorder.h.
#include "scheduler/trace_recorder.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace weft {

namespace {

// `text` as a JSON string, quotes included, escaped by RapidJSON (the
// project's JSON library) rather than by hand.
void append_json_string(std::string& out, std::string_view text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  out.append(buffer.GetString(), buffer.GetSize());
}

// Trace-event timestamps are microseconds; keep the nanoseconds.
void append_micros(std::string& out, std::uint64_t ns) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%llu.%03llu", static_cast<unsigned long long>(ns / 1000),
                static_cast<unsigned long long>(ns % 1000));
  out += buffer;
}

}  // namespace

TraceRecorder::TraceRecorder(unsigned worker_tracks)
    : worker_tracks_(worker_tracks), tracks_(worker_tracks + 2) {
  names_.emplace_back("task");  // id 0: a task with no name of its own
  name_index_.emplace("task", 0);
}

std::uint64_t TraceRecorder::now() const noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now() - epoch_)
                                        .count());
}

unsigned TraceRecorder::track_of_other_thread() const {
  return is_io_thread_ && is_io_thread_() ? io_track() : outside_track();
}

std::uint64_t TraceRecorder::next_id() noexcept {
  // Rule 2. Relaxed: the ids only need to be distinct.
  return ids_.fetch_add(1, std::memory_order_relaxed) + 1;
}

std::uint32_t TraceRecorder::intern(std::string_view name) {
  std::lock_guard guard(names_lock_);
  auto it = name_index_.find(std::string(name));
  if (it != name_index_.end()) return it->second;
  const auto id = static_cast<std::uint32_t>(names_.size());
  names_.emplace_back(name);
  name_index_.emplace(std::string(name), id);
  return id;
}

void TraceRecorder::record(unsigned track, const Event& event) {
  if (track < worker_tracks_) {
    tracks_[track].events.push_back(event);  // rule 1: this slot's thread only
    return;
  }
  if (track > io_track()) track = outside_track();
  std::lock_guard guard(shared_lock_);
  tracks_[track].events.push_back(event);
}

void TraceRecorder::segment(unsigned track, std::uint64_t task, std::uint32_t name,
                            std::uint64_t start, std::uint64_t end) {
  record(track, Event{Kind::Segment, name, task, start, end});
}

void TraceRecorder::flow_start(unsigned track, std::uint64_t flow, std::uint64_t at) {
  record(track, Event{Kind::FlowStart, 0, flow, at, at});
}

void TraceRecorder::flow_end(unsigned track, std::uint64_t flow, std::uint64_t at) {
  record(track, Event{Kind::FlowEnd, 0, flow, at, at});
}

void TraceRecorder::io_slice(std::uint32_t name, std::uint64_t start, std::uint64_t end) {
  record(io_track(), Event{Kind::IoSlice, name, 0, start, end});
}

bool TraceRecorder::write_json(const std::string& path, std::string& error) const {
  std::string out = "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  bool first = true;
  const auto begin_event = [&] {
    if (!first) out += ",\n";
    first = false;
  };
  for (unsigned track = 0; track < tracks_.size(); ++track) {
    std::string name = track < worker_tracks_     ? "worker " + std::to_string(track)
                       : track == outside_track() ? std::string("outside (main, host threads)")
                                                  : std::string("I/O");
    begin_event();
    out += "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":" + std::to_string(track) +
           ",\"args\":{\"name\":";
    append_json_string(out, name);
    out += "}}";
    begin_event();
    out +=
        "{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":1,\"tid\":" + std::to_string(track) +
        ",\"args\":{\"sort_index\":" + std::to_string(track) + "}}";
  }
  for (unsigned track = 0; track < tracks_.size(); ++track) {
    const std::string tid = std::to_string(track);
    for (const Event& e : tracks_[track].events) {
      begin_event();
      switch (e.kind) {
        case Kind::Segment:
        case Kind::IoSlice:
          out += "{\"ph\":\"X\",\"cat\":\"";
          out += e.kind == Kind::Segment ? "task" : "io";
          out += "\",\"name\":";
          append_json_string(out, names_[e.name]);
          out += ",\"pid\":1,\"tid\":" + tid + ",\"ts\":";
          append_micros(out, e.start);
          out += ",\"dur\":";
          append_micros(out, e.end - e.start);
          if (e.kind == Kind::Segment) out += ",\"args\":{\"task\":" + std::to_string(e.id) + "}";
          out += "}";
          break;
        case Kind::FlowStart:
        case Kind::FlowEnd:
          out += "{\"ph\":\"";
          out += e.kind == Kind::FlowStart ? "s" : "f";
          out += "\",\"cat\":\"wake\",\"name\":\"wake\",\"id\":" + std::to_string(e.id) +
                 ",\"pid\":1,\"tid\":" + tid + ",\"ts\":";
          append_micros(out, e.start);
          if (e.kind == Kind::FlowEnd) out += ",\"bp\":\"e\"";
          out += "}";
          break;
      }
    }
  }
  out += "\n]}\n";
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "w"), std::fclose);
  if (!file) {
    error = std::strerror(errno);
    return false;
  }
  if (std::fwrite(out.data(), 1, out.size(), file.get()) != out.size() ||
      std::fflush(file.get()) != 0) {
    error = std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace weft
