#pragma once
#include <string>

std::string greeting(int n);
