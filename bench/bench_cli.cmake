# The autoenc tool against in-process ae_model_fit (bench_cli.c); needs the tool.
if(TARGET autoenc_cli)
  add_executable(bench_cli bench_cli.c)
  target_link_libraries(bench_cli PRIVATE bench_common autoenc fashion_mnist m)
  ae_target_warnings(bench_cli)
  add_dependencies(bench_cli autoenc_cli)
  add_custom_target(bench_cli_run
    COMMAND bench_cli $<TARGET_FILE:autoenc_cli>
    DEPENDS bench_cli autoenc_cli
    USES_TERMINAL
    COMMENT "The autoenc tool against in-process ae_model_fit")
endif()
