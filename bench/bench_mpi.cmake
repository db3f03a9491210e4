# Data-parallel training over MPI (bench_mpi.c); needs libautoenc_mpi (src/mpi, when MPI is found).
#   cmake --build build --target bench_mpi
#   OPENBLAS_NUM_THREADS=1 mpiexec -np 2 build/bench/bench_mpi   (docs/distributed.md)
if(NOT TARGET autoenc_mpi)
  return()
endif()
add_executable(bench_mpi bench_mpi.c)
target_link_libraries(bench_mpi PRIVATE bench_common autoenc_mpi m)
ae_target_warnings(bench_mpi)
add_dependencies(bench bench_mpi)
