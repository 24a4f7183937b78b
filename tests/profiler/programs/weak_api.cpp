// weak_api.cpp -- weak_api.c compiled as C++ (the header's C++ side). Test code.
#include "weak_api.c"
