// policy_test.cpp -- the ptrace permission policy of heapscope attach
// (tools/lib/inject/target.cpp ptrace_refusal) with injected values: this
// kernel has no Yama, so scopes 1-3 are only reachable this way), and the
// stack-room rule for the hijacked thread (remote.cpp stack_room_reason).
#include <gtest/gtest.h>

#include "inject/remote.h"
#include "inject/target.h"

using heapscope::inject::ptrace_refusal;
using heapscope::inject::PtracePolicyInput;

namespace {
PtracePolicyInput same_user(int scope, bool cap) {
  PtracePolicyInput in;
  in.yama_scope = scope;
  in.cap_sys_ptrace = cap;
  in.tool_euid = 1000;
  in.target_uids[0] = in.target_uids[1] = in.target_uids[2] = 1000;
  return in;
}
}  // namespace

TEST(AttachPolicy, NoYamaSameUserIsAllowed) { EXPECT_EQ(ptrace_refusal(same_user(-1, false), 42), ""); }
TEST(AttachPolicy, ScopeZeroSameUserIsAllowed) { EXPECT_EQ(ptrace_refusal(same_user(0, false), 42), ""); }

TEST(AttachPolicy, ScopeOneNeedsCapability) {
  std::string why = ptrace_refusal(same_user(1, false), 42);
  EXPECT_NE(why.find("process 42"), std::string::npos) << why;
  EXPECT_NE(why.find("ptrace_scope = 1"), std::string::npos) << why;
  EXPECT_NE(why.find("CAP_SYS_PTRACE"), std::string::npos) << why;
  EXPECT_EQ(ptrace_refusal(same_user(1, true), 42), "");
}

TEST(AttachPolicy, ScopeTwoNeedsCapability) {
  EXPECT_NE(ptrace_refusal(same_user(2, false), 42).find("ptrace_scope = 2"), std::string::npos);
  EXPECT_EQ(ptrace_refusal(same_user(2, true), 42), "");
}

TEST(AttachPolicy, ScopeThreeRefusesEvenRoot) {
  PtracePolicyInput in = same_user(3, true);
  in.tool_euid = 0;
  std::string why = ptrace_refusal(in, 7);
  EXPECT_NE(why.find("ptrace_scope = 3"), std::string::npos) << why;
  EXPECT_NE(why.find("heapscope run"), std::string::npos) << why;  // what would work
}

TEST(AttachPolicy, AnotherUserNeedsCapability) {
  PtracePolicyInput in = same_user(-1, false);
  in.target_uids[0] = in.target_uids[1] = in.target_uids[2] = 0;
  std::string why = ptrace_refusal(in, 9);
  EXPECT_NE(why.find("owned by uid 0"), std::string::npos) << why;
  EXPECT_NE(why.find("runs as uid 1000"), std::string::npos) << why;
  in.cap_sys_ptrace = true;
  EXPECT_EQ(ptrace_refusal(in, 9), "");
}

TEST(AttachPolicy, SetuidTargetSavedUidCounts) {
  PtracePolicyInput in = same_user(-1, false);
  in.target_uids[2] = 0;  // a setuid program that dropped to the user's uid keeps saved uid 0
  EXPECT_NE(ptrace_refusal(in, 9).find("owned by uid"), std::string::npos);
}

TEST(AttachPolicy, NotDumpableNeedsCapability) {
  PtracePolicyInput in = same_user(-1, false);
  in.target_dumpable = false;
  EXPECT_NE(ptrace_refusal(in, 9).find("not dumpable"), std::string::npos);
  in.cap_sys_ptrace = true;
  EXPECT_EQ(ptrace_refusal(in, 9), "");
}

// The thread an attach hijacks must have room below its stack pointer for the
// saved state and the calls (remote.cpp stack_room_reason).
namespace {
heapscope::inject::Process with_stack(uint64_t lo, uint64_t hi, const char* path) {
  heapscope::inject::Process p;
  heapscope::inject::Mapping m;
  m.start = lo, m.end = hi, m.perms = "rw-p", m.path = path;
  p.maps.push_back(m);
  return p;
}
}  // namespace

TEST(AttachStack, ThreadStackWithRoomIsTaken) {
  auto p = with_stack(0x10000000, 0x10800000, "");  // an 8 MiB pthread stack
  EXPECT_EQ(heapscope::inject::stack_room_reason(p, 0x107ff000), "");
}

TEST(AttachStack, SmallStackOfItsOwnIsNot) {
  auto p = with_stack(0x10000000, 0x10008000, "");  // a 32 KiB coroutine stack
  EXPECT_EQ(heapscope::inject::stack_room_reason(p, 0x10006000),
            "has 24 KiB of stack below its stack pointer, 64 KiB needed");
}

TEST(AttachStack, MainStackGrowsOnDemand) {
  auto p = with_stack(0x7ffff000, 0x80000000, "[stack]");  // the main stack's VMA, 4 KiB so far
  EXPECT_EQ(heapscope::inject::stack_room_reason(p, 0x7ffff800), "");
}

TEST(AttachStack, StackPointerOutsideEveryMapping) {
  auto p = with_stack(0x10000000, 0x10800000, "");
  EXPECT_EQ(heapscope::inject::stack_room_reason(p, 0x20000000), "has its stack pointer in no mapping");
}
