// policy_test.cpp -- the ptrace permission policy of heapscope attach
// (tools/lib/inject/target.cpp ptrace_refusal) with injected values: this
// kernel has no Yama, so scopes 1-3 are only reachable this way.
#include <gtest/gtest.h>

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
