#include <iostream>

#include "src/greeting.h"

int main() {
  std::cout << greeting(12) << std::endl;
  return 0;
}
