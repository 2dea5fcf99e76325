// engine/trace.cpp — see trace.h.
#include "engine/trace.h"

namespace ff {

namespace {
thread_local Tracer* g_tracer = nullptr;
thread_local int g_depth = 0;
}  // namespace

Tracer::Tracer() {
  FF_CHECK(g_tracer == nullptr, "Tracer: a tracer is already active on this thread");
  g_tracer = this;
}
Tracer::~Tracer() { g_tracer = nullptr; }

TraceScope::TraceScope() : outer_(g_tracer != nullptr && g_depth == 0) { ++g_depth; }
TraceScope::~TraceScope() { --g_depth; }

void TraceScope::record(TraceRecord r) const {
  if (outer_ && g_tracer) g_tracer->records.push_back(std::move(r));
}

}  // namespace ff
