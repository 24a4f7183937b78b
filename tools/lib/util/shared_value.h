// shared_value.h -- an immutable value many owners share: SharedValue<C>
// holds a `const C` behind a shared_ptr, so copying it copies a pointer, not
// the container. Reads as a const C (size, empty, [], data, begin/end,
// front/back, ==, <, and a conversion to const C&); assigning a C makes a
// new shared value (nothing another owner holds changes).
// Used where the same stack's key, frame ids and addresses appear in every
// profile of a series (symbolize_profiles): one copy for all of them.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace heapscope {

template <typename C>
class SharedValue {
 public:
  SharedValue() : p_(empty_value()) {}
  SharedValue(C value) : p_(std::make_shared<const C>(std::move(value))) {}  // NOLINT: implicit by design
  SharedValue& operator=(C value) {
    p_ = std::make_shared<const C>(std::move(value));
    return *this;
  }

  const C& get() const { return *p_; }
  operator const C&() const { return *p_; }  // NOLINT: reads as a const C
  auto size() const { return p_->size(); }
  bool empty() const { return p_->empty(); }
  decltype(auto) operator[](size_t i) const { return (*p_)[i]; }
  auto data() const { return p_->data(); }
  auto begin() const { return p_->begin(); }
  auto end() const { return p_->end(); }
  decltype(auto) front() const { return p_->front(); }
  decltype(auto) back() const { return p_->back(); }
  // The same shared value (not only equal contents).
  bool same(const SharedValue& o) const { return p_ == o.p_; }

  friend bool operator==(const SharedValue& a, const SharedValue& b) { return a.p_ == b.p_ || *a.p_ == *b.p_; }
  friend bool operator!=(const SharedValue& a, const SharedValue& b) { return !(a == b); }
  friend bool operator==(const SharedValue& a, const C& b) { return *a.p_ == b; }
  friend bool operator<(const SharedValue& a, const SharedValue& b) { return *a.p_ < *b.p_; }

 private:
  static const std::shared_ptr<const C>& empty_value() {
    static const std::shared_ptr<const C> e = std::make_shared<const C>();
    return e;
  }
  std::shared_ptr<const C> p_;
};

// A shared string's bytes, valid while any owner keeps it.
inline std::string_view view_of(const SharedValue<std::string>& s) { return std::string_view(s.get()); }

}  // namespace heapscope
