// Where the integration tests find the built `orderly` binary and the source tree.
//
// The paths of one checkout are compiled into tests/support/paths.cc alone, one small file per
// test binary: every other test source compiles to the same object in any clone, so a fresh CI
// clone gets them from ccache instead of rebuilding every test.
#pragma once

#include <string>

namespace orderly::testing {

const std::string& orderly_bin();  // the `orderly` executable of this build
const std::string& source_dir();   // the repository root

}  // namespace orderly::testing
