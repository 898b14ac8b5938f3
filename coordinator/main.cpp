// shardq command-line entry point.
#include <cstdio>
int main() { std::puts("shardq: no commands yet"); return 1; }
