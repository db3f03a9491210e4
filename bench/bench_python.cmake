# The C side of bench/bench_python.py (the Python package against the C API in one run);
# included from bench/CMakeLists.txt.
add_executable(bench_python_c bench_python_c.c)
target_link_libraries(bench_python_c PRIVATE bench_common autoenc fashion_mnist m)
ae_target_warnings(bench_python_c)
