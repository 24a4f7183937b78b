// test_origin.cpp -- the origin and container rules on demangled names as
// libstdc++ spells them (the -O2 program tests cover the common containers
// end to end; these cover the variants and the type tidying).
#include <gtest/gtest.h>

#include "analyze/origin.h"

using namespace heapscope;

namespace {
Frame frame(std::string fn, std::string file = "", std::string module = "/usr/bin/app") {
  Frame f;
  f.function = std::move(fn);
  f.file = std::move(file);
  f.module = std::move(module);
  f.resolved = true;
  return f;
}
}  // namespace

TEST(TidyType, SpellsTypesAsUsersWriteThem) {
  EXPECT_EQ(tidy_type("std::map<long int, Foo, std::less<long int>, std::allocator<std::pair<long "
                      "int const, Foo> > >"),
            "std::map<long, Foo>");
  EXPECT_EQ(tidy_type("std::vector<std::__cxx11::basic_string<char, std::char_traits<char>, "
                      "std::allocator<char> >, std::allocator<std::__cxx11::basic_string<char, "
                      "std::char_traits<char>, std::allocator<char> > > >"),
            "std::vector<std::string>");
  EXPECT_EQ(tidy_type("std::unordered_map<long unsigned int, std::vector<short int, "
                      "std::allocator<short int> >, std::hash<long unsigned int>, "
                      "std::equal_to<long unsigned int>, std::allocator<std::pair<long unsigned "
                      "int const, std::vector<short int> > > >"),
            "std::unordered_map<unsigned long, std::vector<short>>");
  EXPECT_EQ(tidy_type("std::basic_string<wchar_t, std::char_traits<wchar_t>, std::allocator<wchar_t> >"),
            "std::wstring");
  EXPECT_EQ(tidy_type("std::set<long long unsigned int>"), "std::set<unsigned long long>");
  EXPECT_EQ(tidy_type("std::function<void ()>"), "std::function<void ()>");
}

TEST(ContainerOf, LibstdcxxInternals) {
  EXPECT_EQ(container_of_function(
                "std::_Rb_tree_iterator<std::pair<long const, V> > std::_Rb_tree<long, "
                "std::pair<long const, V>, std::_Select1st<std::pair<long const, V> >, "
                "std::less<long>, std::allocator<std::pair<long const, V> > "
                ">::_M_emplace_equal<long&, V>(long&, V&&)"),
            "std::multimap<long, V>");
  EXPECT_EQ(container_of_function("std::pair<std::_Rb_tree_iterator<int>, bool> std::_Rb_tree<int, "
                                  "int, std::_Identity<int>, std::less<int>, std::allocator<int> "
                                  ">::_M_insert_unique<int>(int&&)"),
            "std::set<int>");
  EXPECT_EQ(container_of_function(
                "std::__detail::_Map_base<std::__cxx11::basic_string<char, std::char_traits<char>, "
                "std::allocator<char> >, std::pair<std::__cxx11::basic_string<char, "
                "std::char_traits<char>, std::allocator<char> > const, int>, "
                "std::allocator<std::pair<std::__cxx11::basic_string<char, std::char_traits<char>, "
                "std::allocator<char> > const, int> >, std::__detail::_Select1st, "
                "std::equal_to<std::__cxx11::basic_string<char, std::char_traits<char>, "
                "std::allocator<char> > >, std::hash<std::__cxx11::basic_string<char, "
                "std::char_traits<char>, std::allocator<char> > >, "
                "std::__detail::_Mod_range_hashing, std::__detail::_Default_ranged_hash, "
                "std::__detail::_Prime_rehash_policy, std::__detail::_Hashtable_traits<true, "
                "false, true>, true>::operator[](std::__cxx11::basic_string<char, "
                "std::char_traits<char>, std::allocator<char> > const&)"),
            "std::unordered_map<std::string, int>");
  EXPECT_EQ(container_of_function("std::_Hashtable<int, int, std::allocator<int>, "
                                  "std::__detail::_Identity, std::equal_to<int>, std::hash<int>, "
                                  "std::__detail::_Mod_range_hashing, "
                                  "std::__detail::_Default_ranged_hash, "
                                  "std::__detail::_Prime_rehash_policy, "
                                  "std::__detail::_Hashtable_traits<false, true, true> "
                                  ">::_M_rehash(unsigned long, unsigned long const&)"),
            "std::unordered_set<int>");
  EXPECT_EQ(container_of_function("std::__cxx11::basic_string<char, std::char_traits<char>, "
                                  "std::allocator<char> >::_M_mutate(unsigned long, unsigned "
                                  "long, char const*, unsigned long)"),
            "std::string");
  EXPECT_EQ(container_of_function("std::_Fwd_list_base<Item, std::allocator<Item> "
                                  ">::_M_create_node<Item const&>(Item const&)"),
            "std::forward_list<Item>");
  EXPECT_EQ(container_of_function("std::_Deque_base<long, std::allocator<long> "
                                  ">::_M_initialize_map(unsigned long)"),
            "std::deque<long>");
  EXPECT_EQ(container_of_function("std::_Function_base::_Base_manager<Lambda>::_M_create<Lambda>"),
            "std::function");
  EXPECT_EQ(container_of_function("std::__new_allocator<long>::allocate(unsigned long, void const*)"),
            "");
  EXPECT_EQ(container_of_function("operator new(unsigned long)"), "");
  EXPECT_EQ(qualified_name("decltype (::new ((void*)(0)) std::pair<long const, V>((declval<int>)())) "
                           "std::construct_at<std::pair<long const, V>, int>(std::pair<long const, "
                           "V>*, int&&)"),
            "std::construct_at<std::pair<long const, V>, int>");
  EXPECT_EQ(qualified_name("std::vector<int, std::allocator<int> >::operator[](unsigned long)"),
            "std::vector<int, std::allocator<int> >::operator[]");
  EXPECT_EQ(qualified_name("bool operator< <Key>(Key const&, Key const&)"), "operator< <Key>");
  EXPECT_EQ(container_of_function("fill(std::vector<int, std::allocator<int> >&)"), "");
}

TEST(Origin, SkipsRuntimeTemplatesAndSystemHeaders) {
  std::vector<Frame> frames = {
      frame("operator new(unsigned long)", "", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30"),
      frame("malloc", "", "/work/build/profiler/libheapscope.so"),
      frame("std::vector<int, std::allocator<int> >::push_back(int const&)",
            "/usr/include/c++/12/bits/stl_vector.h"),
      frame("void std::vector<int, std::allocator<int> >::_M_realloc_insert<int>(int&&)",
            "/usr/include/c++/12/bits/vector.tcc"),
      frame("__gnu_cxx::__normal_iterator<int*>::base() const", "/usr/include/c++/12/x.h"),
      frame("inline_helper()", "/usr/include/httplib.h"),
      frame("App::handle(Request const&)", "/src/app.cpp"),
      frame("main", "/src/main.cpp"),
  };
  frames[6].line = 42;
  EXPECT_EQ(find_origin(frames), 6);
  EXPECT_EQ(find_container(frames, 6), "std::vector<int>");
  EXPECT_TRUE(is_system_frame(frame("__libc_start_main", "", "/usr/lib/x86_64-linux-gnu/libc.so.6")));
  EXPECT_TRUE(is_system_frame(frame("calloc")));
  EXPECT_FALSE(is_system_frame(frame("operator<(Key const&, Key const&)", "/src/key.h")));
  EXPECT_FALSE(is_system_frame(frame("0x55d0c0de1234", "", "/usr/bin/app")));
  // An installed library is not the program's own code; its caller is the origin.
  std::vector<Frame> lib = {
      frame("operator new(unsigned long)", "", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"),
      frame("httplib::Server::parse_request_line(char const*, httplib::Request&)", "",
            "/usr/lib/x86_64-linux-gnu/libcpp-httplib.so.0.11"),
      frame("httplib::Server::listen(char const*, int, int)", "",
            "/usr/lib/x86_64-linux-gnu/libcpp-httplib.so.0.11"),
      frame("serve(Options const&)", "/src/main.cpp", "/usr/local/bin/server")};
  EXPECT_TRUE(is_system_frame(lib[1]));
  EXPECT_FALSE(is_runtime_frame(lib[1]));
  EXPECT_EQ(find_origin(lib), 3);
  lib.pop_back();
  EXPECT_EQ(find_origin(lib), -1);
  EXPECT_EQ(find_library_frame(lib), 1);
  // Nothing but system frames: no origin, the container still found.
  std::vector<Frame> sys(frames.begin(), frames.begin() + 4);
  EXPECT_EQ(find_origin(sys), -1);
  EXPECT_EQ(find_container(sys, -1), "std::vector<int>");
}
