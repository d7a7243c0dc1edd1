// The one translation unit that compiles Asio, Asio's OpenSSL glue and Beast
// (BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION keep them out of the rest).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
// GCC 12 with -O2 and the sanitizers reports boost::optional's storage in Beast's
// basic_parser::content_length() as maybe-uninitialized (a known false positive); with
// RTMPGATE_WERROR it would stop the build. Silenced for Beast's sources only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/beast/src.hpp>
#pragma GCC diagnostic pop
