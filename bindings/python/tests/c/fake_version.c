/* A library that only claims a version, for the loading tests: the package must refuse
 * one of another ABI major (or an older minor) and say which it found where. */
#ifndef FAKE_VERSION
#error "define FAKE_VERSION"
#endif
__attribute__((visibility("default"))) unsigned ae_version_number(void) { return FAKE_VERSION; }
