#include "src/greeting.h"

#include "salt.h"

std::string greeting(int n) {
  std::string s = "hello from hoard e2e, salt " HOARD_SALT ", squares:";
  for (int i = 1; i <= n; i++) s += " " + std::to_string(i * i);
  return s;
}
