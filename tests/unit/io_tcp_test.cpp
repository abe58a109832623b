// TCP: tcp_connect, TcpConnection, tcp_listen (io/tcp_connection.h,
// io/tcp_listener.h, io/net_registry.h). Only 127.0.0.1. The tests assert
// behaviour, never durations; waits are bounded only so that a bug fails
// instead of hanging (net_test_support.h).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "io/io_service.h"
#include "io/tcp_connection.h"
#include "io/tcp_listener.h"
#include "net_test_support.h"

namespace weft {
namespace {

using namespace net_test;
using ReadResult = NetResult<std::optional<std::string>>;
using WriteResult = std::optional<NetError>;

// Echoes what it reads until the peer closes or an error; then closes.
void echo(const TcpConnection& connection) {
  connection.read_some([connection](ReadResult bytes) {
    if (!bytes.ok() || !bytes.value()) {
      connection.close();
      return;
    }
    connection.write(std::move(*bytes.value()), [connection](WriteResult error) {
      if (error) {
        connection.close();
        return;
      }
      echo(connection);
    });
  });
}

// A listener on 127.0.0.1 whose accepted connections the test collects.
struct Accepted {
  std::mutex mutex;
  std::vector<TcpConnection> connections;

  std::optional<TcpConnection> take(std::size_t index = 0) {
    if (!eventually([&] {
          std::lock_guard lock(mutex);
          return connections.size() > index;
        })) {
      return std::nullopt;
    }
    std::lock_guard lock(mutex);
    return connections[index];
  }

  void clear() {
    std::lock_guard lock(mutex);
    connections.clear();
  }
};

TcpListener listen_collecting(IoService& io, const std::shared_ptr<Accepted>& accepted) {
  NetResult<TcpListener> listener = tcp_listen(
      io, 0,
      [accepted](TcpConnection connection) {
        std::lock_guard lock(accepted->mutex);
        accepted->connections.push_back(std::move(connection));
      },
      "127.0.0.1");
  EXPECT_TRUE(listener.ok()) << listener.error().message;
  return listener.ok() ? listener.value() : TcpListener();
}

TcpConnection connect_to(IoService& io, std::uint16_t port) {
  auto box = make_box<NetResult<TcpConnection>>();
  tcp_connect(io, "127.0.0.1", port, [box](NetResult<TcpConnection> r) { box->set(std::move(r)); });
  auto result = box->wait();
  if (!result || !result->ok()) {
    ADD_FAILURE() << "connect failed: " << (result ? result->error().message : "no callback");
    return TcpConnection();
  }
  return result->value();
}

// Reads until `size` bytes arrived (or an error or the end); what arrived.
std::string read_exactly(const TcpConnection& connection, std::size_t size) {
  std::string all;
  while (all.size() < size) {
    auto box = make_box<ReadResult>();
    connection.read_some([box](ReadResult r) { box->set(std::move(r)); });
    auto result = box->wait();
    if (!result || !result->ok() || !result->value()) break;
    all += *result->value();
  }
  return all;
}

void write_all(const TcpConnection& connection, std::string data) {
  auto box = make_box<WriteResult>();
  connection.write(std::move(data), [box](WriteResult e) { box->set(std::move(e)); });
  auto result = box->wait();
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(result->has_value()) << (*result)->message;
}

void wait_idle(const IoService& io) {
  EXPECT_TRUE(eventually([&] { return io.pending_operations() == 0; }));
}

TEST(IoTcp, EchoRoundTrip) {
  IoService io;
  NetResult<TcpListener> listener = tcp_listen(io, 0, echo, "127.0.0.1");
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  ASSERT_NE(listener.value().port(), 0);
  EXPECT_EQ(listener.value().address(), "127.0.0.1:" + std::to_string(listener.value().port()));

  TcpConnection client = connect_to(io, listener.value().port());
  ASSERT_TRUE(client.valid());
  EXPECT_EQ(client.peer_address(), listener.value().address());
  EXPECT_EQ(client.local_address().rfind("127.0.0.1:", 0), 0u);

  std::string message = "hello, weft";
  for (int i = 0; i < 5000; ++i) message += static_cast<char>('a' + i % 26);
  write_all(client, message);
  EXPECT_EQ(read_exactly(client, message.size()), message);

  // Closing our end: the echo side reads the end and closes too.
  client.close();
  listener.value().stop();
  wait_idle(io);
}

TEST(IoTcp, ConnectToAClosedPortIsRefused) {
  IoService io;
  const std::uint16_t port = closed_port();
  auto box = make_box<NetResult<TcpConnection>>();
  tcp_connect(io, "127.0.0.1", port, [box](NetResult<TcpConnection> r) { box->set(std::move(r)); });
  auto result = box->wait();
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(result->ok());
  EXPECT_EQ(result->error().kind, NetErrorKind::Refused) << result->error().message;
  EXPECT_EQ(result->error().message, "Connection refused");
  EXPECT_EQ(result->error().address, "127.0.0.1:" + std::to_string(port));
  wait_idle(io);
  EXPECT_EQ(box->calls(), 1);
}

TEST(IoTcp, ConnectByNameResolvesIt) {
  IoService io;
  auto accepted = std::make_shared<Accepted>();
  TcpListener listener = listen_collecting(io, accepted);
  auto box = make_box<NetResult<TcpConnection>>();
  tcp_connect(io, "localhost", listener.port(),
              [box](NetResult<TcpConnection> r) { box->set(std::move(r)); });
  auto result = box->wait();
  ASSERT_TRUE(result.has_value());
  // localhost may resolve to ::1 first, where nothing listens: the
  // connect goes on to the next address.
  ASSERT_TRUE(result->ok()) << result->error().message;
  EXPECT_EQ(result->value().peer_address(), listener.address());
  listener.stop();
}

TEST(IoTcp, UnknownHostIsReported) {
  IoService io;
  auto box = make_box<NetResult<TcpConnection>>();
  // .invalid never resolves (RFC 2606).
  tcp_connect(io, "no-such-host.invalid", 80,
              [box](NetResult<TcpConnection> r) { box->set(std::move(r)); });
  auto result = box->wait();
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(result->ok());
  EXPECT_EQ(result->error().kind, NetErrorKind::UnknownHost) << result->error().message;
  EXPECT_EQ(result->error().address, "no-such-host.invalid:80");
  wait_idle(io);
}

TEST(IoTcp, PendingReadCompletesOnceWithClosedWhenTheConnectionIsClosed) {
  IoService io;
  auto accepted = std::make_shared<Accepted>();
  TcpListener listener = listen_collecting(io, accepted);
  TcpConnection client = connect_to(io, listener.port());
  ASSERT_TRUE(accepted->take().has_value());

  auto box = make_box<ReadResult>();
  client.read_some([box](ReadResult r) { box->set(std::move(r)); });
  client.close();
  client.close();  // idempotent
  auto result = box->wait();
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(result->ok());
  EXPECT_EQ(result->error().kind, NetErrorKind::Closed);

  // Later operations fail at once with Closed.
  auto late = make_box<ReadResult>();
  client.read_some([late](ReadResult r) { late->set(std::move(r)); });
  auto late_result = late->wait();
  ASSERT_TRUE(late_result.has_value());
  EXPECT_EQ(late_result->error().kind, NetErrorKind::Closed);

  // The peer sees the end of the stream.
  auto peer_box = make_box<ReadResult>();
  accepted->take()->read_some([peer_box](ReadResult r) { peer_box->set(std::move(r)); });
  auto peer_result = peer_box->wait();
  ASSERT_TRUE(peer_result.has_value());
  ASSERT_TRUE(peer_result->ok());
  EXPECT_FALSE(peer_result->value().has_value());

  listener.stop();
  accepted->clear();
  wait_idle(io);
  EXPECT_EQ(box->calls(), 1);
}

// A write in flight when the connection closes completes once: done if
// its bytes left first, else with Closed. Both orders are exercised: the
// small writes usually leave before the close, the large one never can
// (the peer does not read). Before the fix a write whose bytes had left
// never completed, and the program awaiting it hung.
TEST(IoTcp, WritesInFlightCompleteOnceWhenTheConnectionIsClosed) {
  IoService io;
  auto accepted = std::make_shared<Accepted>();
  TcpListener listener = listen_collecting(io, accepted);
  for (int round = 0; round < 20; ++round) {
    TcpConnection client = connect_to(io, listener.port());
    ASSERT_TRUE(accepted->take().has_value());
    auto small = make_box<WriteResult>();
    auto large = make_box<WriteResult>();
    client.write("small", [small](WriteResult e) { small->set(std::move(e)); });
    client.write(std::string(64 * 1024 * 1024, 'x'),
                 [large](WriteResult e) { large->set(std::move(e)); });
    client.close();
    auto small_result = small->wait();
    ASSERT_TRUE(small_result.has_value()) << "round " << round;
    if (small_result->has_value()) {
      EXPECT_EQ((*small_result)->kind, NetErrorKind::Closed);
    }
    auto large_result = large->wait();
    ASSERT_TRUE(large_result.has_value()) << "round " << round;
    ASSERT_TRUE(large_result->has_value());
    EXPECT_EQ((*large_result)->kind, NetErrorKind::Closed);
    EXPECT_EQ(small->calls(), 1);
    EXPECT_EQ(large->calls(), 1);
    accepted->clear();
  }
  listener.stop();
  wait_idle(io);
}

TEST(IoTcp, ReadTimeoutLeavesTheConnectionUsable) {
  IoService io;
  auto accepted = std::make_shared<Accepted>();
  TcpListener listener = listen_collecting(io, accepted);
  TcpConnection client = connect_to(io, listener.port());
  std::optional<TcpConnection> server_side = accepted->take();
  ASSERT_TRUE(server_side.has_value());

  auto box = make_box<ReadResult>();
  client.read_some([box](ReadResult r) { box->set(std::move(r)); }, std::chrono::milliseconds(20));
  auto result = box->wait();
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(result->ok());
  EXPECT_EQ(result->error().kind, NetErrorKind::TimedOut);

  write_all(*server_side, "after the timeout");
  EXPECT_EQ(read_exactly(client, 17), "after the timeout");
  listener.stop();
}

TEST(IoTcp, CancelStopsTheReadAndANeighbouringWriteCarriesOn) {
  IoService io;
  auto accepted = std::make_shared<Accepted>();
  TcpListener listener = listen_collecting(io, accepted);
  TcpConnection client = connect_to(io, listener.port());
  std::optional<TcpConnection> server_side = accepted->take();
  ASSERT_TRUE(server_side.has_value());

  // A write too big for the kernel's buffers stays in flight while the
  // peer does not read; cancelling the read aborts both socket operations
  // (Asio 1.74 cancels per socket), and the write must resume unharmed.
  std::string big(8 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 % 251);
  auto write_box = make_box<WriteResult>();
  client.write(big, [write_box](WriteResult e) { write_box->set(std::move(e)); });
  auto read_box = make_box<ReadResult>();
  NetOperation read = client.read_some([read_box](ReadResult r) { read_box->set(std::move(r)); });
  read.cancel();
  auto read_result = read_box->wait();
  ASSERT_TRUE(read_result.has_value());
  ASSERT_FALSE(read_result->ok());
  EXPECT_EQ(read_result->error().kind, NetErrorKind::Cancelled);

  EXPECT_EQ(read_exactly(*server_side, big.size()), big);
  auto write_result = write_box->wait();
  ASSERT_TRUE(write_result.has_value());
  EXPECT_FALSE(write_result->has_value());
  read.cancel();  // after completion: no effect
  listener.stop();
}

TEST(IoTcp, CancelAfterTheBytesArrivedLoses) {
  IoService io;
  auto accepted = std::make_shared<Accepted>();
  TcpListener listener = listen_collecting(io, accepted);
  TcpConnection client = connect_to(io, listener.port());
  std::optional<TcpConnection> server_side = accepted->take();
  ASSERT_TRUE(server_side.has_value());
  for (int round = 0; round < 200; ++round) {
    const std::string data = "round " + std::to_string(round);
    write_all(*server_side, data);
    auto box = make_box<ReadResult>();
    NetOperation read = client.read_some([box](ReadResult r) { box->set(std::move(r)); });
    read.cancel();
    auto result = box->wait();
    ASSERT_TRUE(result.has_value());
    // Either the cancel won (then the bytes are still there) or the read
    // did: never both, and no byte is lost.
    std::string got = result->ok() ? *result->value() : "";
    if (!result->ok()) {
      EXPECT_EQ(result->error().kind, NetErrorKind::Cancelled);
    }
    if (got.size() < data.size()) got += read_exactly(client, data.size() - got.size());
    EXPECT_EQ(got, data);
  }
  listener.stop();
}

TEST(IoTcp, WriteTimeoutCancelsTheSocketWrite) {
  IoService io;
  auto accepted = std::make_shared<Accepted>();
  TcpListener listener = listen_collecting(io, accepted);
  TcpConnection client = connect_to(io, listener.port());
  ASSERT_TRUE(accepted->take().has_value());
  // The peer never reads, so 64 MiB cannot all leave.
  auto box = make_box<WriteResult>();
  client.write(
      std::string(64 * 1024 * 1024, 'x'), [box](WriteResult e) { box->set(std::move(e)); },
      std::chrono::milliseconds(50));
  auto result = box->wait();
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->has_value());
  EXPECT_EQ((*result)->kind, NetErrorKind::TimedOut);
  listener.stop();
  accepted->clear();
  client.close();
  wait_idle(io);
}

TEST(IoTcp, ConnectTimeoutAndCancelStopTheConnect) {
  // A listening socket whose accept queue is full drops new SYNs, so a
  // connect to it stays pending until the timeout cancels it.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(fd, 0), 0);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const std::uint16_t port = ntohs(address.sin_port);
  std::vector<int> fillers;
  for (int i = 0; i < 8; ++i) {
    const int filler = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    (void)::connect(filler, reinterpret_cast<sockaddr*>(&address), sizeof address);
    fillers.push_back(filler);
  }

  IoService io;
  auto timed = make_box<NetResult<TcpConnection>>();
  tcp_connect(
      io, "127.0.0.1", port, [timed](NetResult<TcpConnection> r) { timed->set(std::move(r)); },
      std::chrono::milliseconds(100));
  auto timed_result = timed->wait();
  ASSERT_TRUE(timed_result.has_value());
  ASSERT_FALSE(timed_result->ok());
  EXPECT_EQ(timed_result->error().kind, NetErrorKind::TimedOut);

  auto cancelled = make_box<NetResult<TcpConnection>>();
  NetOperation connect =
      tcp_connect(io, "127.0.0.1", port,
                  [cancelled](NetResult<TcpConnection> r) { cancelled->set(std::move(r)); });
  connect.cancel();
  auto cancelled_result = cancelled->wait();
  ASSERT_TRUE(cancelled_result.has_value());
  ASSERT_FALSE(cancelled_result->ok());
  EXPECT_EQ(cancelled_result->error().kind, NetErrorKind::Cancelled);
  wait_idle(io);

  for (int filler : fillers) ::close(filler);
  ::close(fd);
}

TEST(IoTcp, EndOfStreamReadsAsNullopt) {
  IoService io;
  auto accepted = std::make_shared<Accepted>();
  TcpListener listener = listen_collecting(io, accepted);
  TcpConnection client = connect_to(io, listener.port());
  std::optional<TcpConnection> server_side = accepted->take();
  ASSERT_TRUE(server_side.has_value());
  write_all(*server_side, "last words");
  server_side->close();
  EXPECT_EQ(read_exactly(client, 10), "last words");
  for (int i = 0; i < 2; ++i) {
    auto box = make_box<ReadResult>();
    client.read_some([box](ReadResult r) { box->set(std::move(r)); });
    auto result = box->wait();
    ASSERT_TRUE(result.has_value());
    ASSERT_TRUE(result->ok());
    EXPECT_FALSE(result->value().has_value());
  }
  listener.stop();
}

TEST(IoTcp, DroppingEveryHandleClosesTheConnection) {
  IoService io;
  // The listener drops each connection it is given.
  NetResult<TcpListener> listener = tcp_listen(
      io, 0, [](TcpConnection) {}, "127.0.0.1");
  ASSERT_TRUE(listener.ok());
  TcpConnection client = connect_to(io, listener.value().port());
  auto box = make_box<ReadResult>();
  client.read_some([box](ReadResult r) { box->set(std::move(r)); });
  auto result = box->wait();
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok());
  EXPECT_FALSE(result->value().has_value());
  listener.value().stop();
}

TEST(IoTcp, APendingReadKeepsItsConnectionOpen) {
  IoService io;
  auto accepted = std::make_shared<Accepted>();
  TcpListener listener = listen_collecting(io, accepted);
  auto box = make_box<ReadResult>();
  {
    TcpConnection client = connect_to(io, listener.port());
    client.read_some([box](ReadResult r) { box->set(std::move(r)); });
  }  // the only handle is gone; the read still holds the connection
  std::optional<TcpConnection> server_side = accepted->take();
  ASSERT_TRUE(server_side.has_value());
  write_all(*server_side, "still here");
  auto result = box->wait();
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok());
  EXPECT_EQ(result->value().value_or(""), "still here");
  listener.stop();
}

TEST(IoTcp, WritesFromManyThreadsArriveWholeAndInOrderPerThread) {
  IoService io;
  auto accepted = std::make_shared<Accepted>();
  TcpListener listener = listen_collecting(io, accepted);
  TcpConnection client = connect_to(io, listener.port());
  std::optional<TcpConnection> server_side = accepted->take();
  ASSERT_TRUE(server_side.has_value());

  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int k = 0; k < kPerThread; ++k) {
        // Fixed width: "<thread><4-digit index>;".
        char record[8];
        std::snprintf(record, sizeof record, "%d%04d;", t, k);
        client.write(record, [&](WriteResult e) {
          if (e) failures.fetch_add(1);
        });
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  const std::string all = read_exactly(*server_side, kThreads * kPerThread * 6);
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread * 6));
  std::vector<int> next(kThreads, 0);
  for (std::size_t at = 0; at < all.size(); at += 6) {
    const int thread = all[at] - '0';
    ASSERT_TRUE(thread >= 0 && thread < kThreads) << all.substr(at, 6);
    EXPECT_EQ(std::stoi(all.substr(at + 1, 4)), next[thread]) << "thread " << thread;
    EXPECT_EQ(all[at + 5], ';');
    next[thread] += 1;
  }
  EXPECT_EQ(failures.load(), 0);
  listener.stop();
  client.close();
  accepted->clear();
  wait_idle(io);
}

TEST(IoTcp, ListeningOnAPortInUseFails) {
  IoService io;
  NetResult<TcpListener> first = tcp_listen(
      io, 0, [](TcpConnection) {}, "127.0.0.1");
  ASSERT_TRUE(first.ok());
  NetResult<TcpListener> second = tcp_listen(
      io, first.value().port(), [](TcpConnection) {}, "127.0.0.1");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().message, "Address already in use");
  EXPECT_EQ(second.error().address, first.value().address());
  NetResult<TcpListener> by_name = tcp_listen(
      io, 0, [](TcpConnection) {}, "localhost");
  ASSERT_FALSE(by_name.ok());
  EXPECT_EQ(by_name.error().kind, NetErrorKind::InvalidArgument);
  first.value().stop();
  first.value().stop();  // idempotent
  wait_idle(io);
}

TEST(IoTcp, AnOpenListenerCountsAsOnePendingOperation) {
  IoService io;
  NetResult<TcpListener> listener = tcp_listen(
      io, 0, [](TcpConnection) {}, "127.0.0.1");
  ASSERT_TRUE(listener.ok());
  EXPECT_TRUE(eventually([&] { return io.pending_operations() == 1; }));
  listener.value().stop();
  wait_idle(io);
}

TEST(IoTcp, ShutdownClosesListenersAndConnectionsAndCompletesTheirOperations) {
  auto io = std::make_unique<IoService>();
  auto accepted = std::make_shared<Accepted>();
  TcpListener listener = listen_collecting(*io, accepted);
  NetResult<TcpListener> echo_listener = tcp_listen(*io, 0, echo, "127.0.0.1");
  ASSERT_TRUE(echo_listener.ok());
  TcpConnection client = connect_to(*io, listener.port());
  TcpConnection echo_client = connect_to(*io, echo_listener.value().port());
  ASSERT_TRUE(accepted->take().has_value());
  auto read = make_box<ReadResult>();
  client.read_some([read](ReadResult r) { read->set(std::move(r)); });
  auto server_read = make_box<ReadResult>();
  accepted->take()->read_some([server_read](ReadResult r) { server_read->set(std::move(r)); });

  io->shutdown();  // returns: nothing left open to wait for
  EXPECT_EQ(io->pending_operations(), 0u);
  for (auto* box : {read.get(), server_read.get()}) {
    EXPECT_EQ(box->calls(), 1);
    auto result = box->wait(std::chrono::seconds(0));
    ASSERT_TRUE(result.has_value());
    ASSERT_FALSE(result->ok());
    EXPECT_EQ(result->error().kind, NetErrorKind::ShutDown);
  }

  // After shutdown: requests fail at once, on this thread.
  auto late = make_box<ReadResult>();
  client.read_some([late](ReadResult r) { late->set(std::move(r)); });
  EXPECT_EQ(late->calls(), 1);
  EXPECT_EQ(late->wait(std::chrono::seconds(0))->error().kind, NetErrorKind::ShutDown);
  auto late_connect = make_box<NetResult<TcpConnection>>();
  tcp_connect(*io, "127.0.0.1", listener.port(),
              [late_connect](NetResult<TcpConnection> r) { late_connect->set(std::move(r)); });
  EXPECT_EQ(late_connect->calls(), 1);
  NetResult<TcpListener> late_listener = tcp_listen(
      *io, 0, [](TcpConnection) {}, "127.0.0.1");
  ASSERT_FALSE(late_listener.ok());
  EXPECT_EQ(late_listener.error().kind, NetErrorKind::ShutDown);

  // Handles outlive the service: their calls do nothing or fail, and
  // dropping them is safe.
  io.reset();
  client.close();
  listener.stop();
  auto after = make_box<WriteResult>();
  echo_client.write("x", [after](WriteResult e) { after->set(std::move(e)); });
  ASSERT_EQ(after->calls(), 1);
  EXPECT_EQ((*after->wait(std::chrono::seconds(0)))->kind, NetErrorKind::ShutDown);
}

TEST(IoTcp, ShutdownWithAConnectInFlightCompletesIt) {
  auto io = std::make_unique<IoService>();
  std::vector<std::shared_ptr<Box<NetResult<TcpConnection>>>> boxes;
  NetResult<TcpListener> listener = tcp_listen(
      *io, 0, [](TcpConnection) {}, "127.0.0.1");
  ASSERT_TRUE(listener.ok());
  for (int i = 0; i < 50; ++i) {
    auto box = make_box<NetResult<TcpConnection>>();
    tcp_connect(*io, "127.0.0.1", listener.value().port(),
                [box](NetResult<TcpConnection> r) { box->set(std::move(r)); });
    boxes.push_back(box);
  }
  io->shutdown();
  for (auto& box : boxes) EXPECT_EQ(box->calls(), 1);
}

}  // namespace
}  // namespace weft
