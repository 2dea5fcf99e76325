// cudaemu/fiber.cpp — stacks and the context switch of cudaemu/fiber.h.
#include "fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace cudaemu::fiber {

Stack make_stack(size_t size) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size = (size + page - 1) / page * page;
  void* p = mmap(nullptr, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    std::fprintf(stderr, "[cudaemu] fatal: cannot map a fiber stack of %zu bytes\n", size);
    std::abort();
  }
  mprotect(p, page, PROT_NONE);  // the guard page: stacks grow down into it
  return Stack{static_cast<char*>(p) + page, size};
}

void free_stack(Stack& s) {
  if (!s.lo) return;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  munmap(s.lo - page, s.size + page);
  s = Stack{};
}

#ifdef CUDAEMU_USE_UCONTEXT

namespace {
struct Start {
  void (*fn)(void*);
  void* arg;
};
// makecontext passes int arguments only: the pointer travels in two halves.
void trampoline(unsigned lo, unsigned hi) {
  auto* s = reinterpret_cast<Start*>((static_cast<uintptr_t>(hi) << 32) | lo);
  s->fn(s->arg);
  std::abort();  // fn never returns
}
}  // namespace

void prepare(Context* ctx, const Stack& stack, void (*fn)(void*), void* arg) {
  getcontext(&ctx->uc);
  // The start record lives at the top of the fiber's own stack.
  auto* s = reinterpret_cast<Start*>(stack.lo + stack.size - 64);
  s->fn = fn;
  s->arg = arg;
  ctx->uc.uc_stack.ss_sp = stack.lo;
  ctx->uc.uc_stack.ss_size = stack.size - 64;
  ctx->uc.uc_link = nullptr;
  uintptr_t v = reinterpret_cast<uintptr_t>(s);
  makecontext(&ctx->uc, reinterpret_cast<void (*)()>(trampoline), 2, static_cast<unsigned>(v & 0xffffffffu),
              static_cast<unsigned>(v >> 32));
}

void swap(Context* from, Context* to) { swapcontext(&from->uc, &to->uc); }

#else  // x86-64 System V

extern "C" void cudaemu_switch(void** save_sp, void* new_sp);
extern "C" void cudaemu_fiber_start();

// cudaemu_switch(save_sp = rdi, new_sp = rsi): push the callee-saved registers and the two control
// words, store rsp in *save_sp, load new_sp, pop the same from there, return into the new context.
// cudaemu_fiber_start is where a fresh context "returns" to: fn in r12, arg in r13 (see prepare).
asm(R"(
  .text
  .globl cudaemu_switch
  .type cudaemu_switch, @function
cudaemu_switch:
  .cfi_startproc
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .cfi_endproc
  .size cudaemu_switch, .-cudaemu_switch

  .globl cudaemu_fiber_start
  .type cudaemu_fiber_start, @function
cudaemu_fiber_start:
  .cfi_startproc
  .cfi_undefined rip
  movq %r13, %rdi
  andq $-16, %rsp
  callq *%r12
  ud2
  .cfi_endproc
  .size cudaemu_fiber_start, .-cudaemu_fiber_start
)");

void prepare(Context* ctx, const Stack& stack, void (*fn)(void*), void* arg) {
  // The frame cudaemu_switch pops: control words, r15, r14, r13 (arg), r12 (fn), rbx, rbp, return
  // address (cudaemu_fiber_start), laid out from the top of the stack down.
  uint64_t* top = reinterpret_cast<uint64_t*>((reinterpret_cast<uintptr_t>(stack.lo + stack.size) & ~uintptr_t(15)));
  uint64_t* sp = top - 10;
  uint32_t mxcsr;
  uint16_t fpucw;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpucw));
  sp[0] = static_cast<uint64_t>(mxcsr) | (static_cast<uint64_t>(fpucw) << 32);
  sp[1] = 0;                                      // r15
  sp[2] = 0;                                      // r14
  sp[3] = reinterpret_cast<uint64_t>(arg);        // r13
  sp[4] = reinterpret_cast<uint64_t>(fn);         // r12
  sp[5] = 0;                                      // rbx
  sp[6] = 0;                                      // rbp: ends backtraces
  sp[7] = reinterpret_cast<uint64_t>(&cudaemu_fiber_start);
  sp[8] = 0;
  sp[9] = 0;
  ctx->sp = sp;
}

void swap(Context* from, Context* to) { cudaemu_switch(&from->sp, to->sp); }

#endif

}  // namespace cudaemu::fiber
