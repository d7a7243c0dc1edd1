#include "gateway/rtmp/run_connection.hpp"

#include "gateway/rtmp/connection.hpp"

namespace rtmpgate::gateway::rtmp {

asio::awaitable<void> run_connection(std::unique_ptr<byte_stream> stream, server_context& context) {
    // Shared: shutdown reaches it through the weak pointer it leaves in context.connections.
    auto c = std::make_shared<connection>(std::move(stream), co_await asio::this_coro::executor,
                                          context);
    co_await c->run();
}

}  // namespace rtmpgate::gateway::rtmp
