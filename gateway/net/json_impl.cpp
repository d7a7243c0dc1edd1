// The one translation unit that compiles Boost.JSON; everywhere else it is used through its
// headers (the library's own "header-only" arrangement: src.hpp in exactly one source file).
#include <boost/json/src.hpp>
