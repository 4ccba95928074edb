#include "support/paths.h"

namespace orderly::testing {

const std::string& orderly_bin() {
  static const std::string path = ORDERLY_BIN;
  return path;
}

const std::string& source_dir() {
  static const std::string path = ORDERLY_SOURCE_DIR;
  return path;
}

}  // namespace orderly::testing
