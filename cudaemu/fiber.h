// cudaemu/fiber.h — the execution contexts the CUDA threads of a block run on: a fiber is a stack
// and a saved stack pointer; switching saves the callee-saved registers of the System V x86-64 ABI
// (rbx, rbp, r12-r15) plus the SSE (MXCSR) and x87 control words on the old stack and restores
// them from the new one: 20 instructions, no system call. Elsewhere (or with
// -DCUDAEMU_USE_UCONTEXT) the portable, slower ucontext functions do the same.
// Stacks are mmap'd with a PROT_NONE guard page below them, so an overflow faults at once, and are
// reused from block to block.
#pragma once
#include <cstddef>

#if !defined(__x86_64__) && !defined(CUDAEMU_USE_UCONTEXT)
#define CUDAEMU_USE_UCONTEXT 1
#endif
#ifdef CUDAEMU_USE_UCONTEXT
#include <ucontext.h>
#endif

namespace cudaemu::fiber {

struct Stack {
  char* lo = nullptr;  // lowest usable byte (above the guard page)
  size_t size = 0;     // usable bytes
};
Stack make_stack(size_t size);  // aborts when the address space is exhausted
void free_stack(Stack& s);

struct Context {
#ifdef CUDAEMU_USE_UCONTEXT
  ucontext_t uc;
#else
  void* sp = nullptr;
#endif
};

// Prepares `ctx` to run fn(arg) on `stack` when first switched to. fn must never return: it
// switches away for the last time instead.
void prepare(Context* ctx, const Stack& stack, void (*fn)(void*), void* arg);
// Saves the running context in *from and continues *to.
void swap(Context* from, Context* to);

}  // namespace cudaemu::fiber
