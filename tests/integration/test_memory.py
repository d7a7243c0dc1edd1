"""Memory a client can make the gateway hold (issue 11): messages received in part are bounded per
connection (limits.max_partial_message_bytes) and over the process
(limits.max_partial_message_bytes_total); the connection that goes past either is closed and
counted, and nothing else changes."""

import struct

import harness
from harness import metric, wait_metric
from rtmp_client import Client, server_closes

MIB = 1 << 20
REFUSALS = "rtmpgate_refusals_total"


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def connected(g, chunk_size=65536):
    """A client past connect (to the engine) that sends chunks of `chunk_size`."""
    c = Client("127.0.0.1", g.port("rtmp"))
    c.handshake()
    reply = c.connect("live")
    assert reply[0] == "_result", reply
    c.set_chunk_size(chunk_size)
    return c


def send_partial(client, csids, declared, sent, piece=65536):
    """Starts a video message of `declared` octets on each chunk stream of `csids` and sends
    `sent` octets of each, a chunk of `piece` per stream in turn (the attack of issue 11: 64
    chunk streams each 7 MiB into an 8 MiB message). Returns the octets sent before the server
    closed the connection (all of them if it did not)."""
    total = 0
    body = bytes(piece)
    try:
        for at in range(0, sent, piece):
            for csid in csids:
                if at == 0:
                    header = bytes([csid, 0, 0, 0]) + struct.pack(">I", declared)[1:] + b"\x09" + \
                        struct.pack("<I", 1)
                else:
                    header = bytes([0xC0 | csid])  # format 3: the same message goes on
                client.send_raw(header + body)
                total += piece
    except OSError:  # reset: the gateway closed it
        pass
    return total


class PartialMessagesTest(harness.GatewayTest):
    def test_many_chunk_streams_partly_sent_close_the_connection(self):
        """Three connections, one after the other, each start an 8 MiB message on 60 chunk
        streams and send up to 1 MiB of each (60 MiB): each is closed once its partial messages
        pass 10 MiB (the default), /metrics counts three refusals, the gateway's resident size
        stays far below what was sent, and ffmpeg still publishes and plays on it."""
        g = self.gateway(measures_memory=True)
        before = status_kib(g.proc.pid, "VmRSS")
        csids = range(4, 64)
        for i in range(3):
            c = connected(g)
            sent = send_partial(c, csids, declared=8 * MIB, sent=MIB)
            self.assertTrue(server_closes(c.sock, timeout=10),
                            f"connection {i} still open after {sent} bytes of partial messages")
            c.close()
        self.assertEqual(wait_metric(g, REFUSALS, 3, reason="max_partial_message_bytes"), 3)
        self.assertEqual(metric(g, REFUSALS, reason="max_partial_message_bytes_total"), 0)
        self.assertEqual(wait_metric(g, "rtmpgate_partial_message_bytes", 0), 0)
        reason = "reason=partly received messages above limits.max_partial_message_bytes (10485760)"
        self.assertTrue(harness.wait_for(lambda: g.log().count(reason) == 3), g.log())
        peak = status_kib(g.proc.pid, "VmHWM")
        print(f"gateway RSS {before} KiB before, peak {peak} KiB, "
              f"{status_kib(g.proc.pid, 'VmRSS')} KiB after three connections closed")
        # Unbounded, each connection holds all 60 MiB it sent: 180 MiB at the peak.
        self.assertLess(peak - before, 96 * 1024)

        clip = harness.make_clip("h264_aac_6s.flv", seconds=6)
        out = self.path("after.flv")
        player = self.track(harness.ffmpeg_play(self.workdir, g.url("live/after"), out))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 1), 1)
        publisher = self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/after")))
        self.assertEqual(publisher.wait(timeout=60), 0, publisher.output())
        self.assertEqual(player.wait(timeout=20), 0, player.output())
        harness.assert_media(self, out, harness.probe_packets(clip))

    def test_the_process_budget_closes_the_connection_that_goes_past_it(self):
        """With 6 MiB for the whole process, a connection holding 3 MiB of partial messages
        keeps them; a second one that brings the total past 6 MiB (within its own 4 MiB) is
        closed and counted; the first one's bytes are given back when it leaves."""
        g = self.gateway(harness.engine_config(
            "limits:\n"
            "  max_message_length: 2MiB\n"
            "  max_partial_message_bytes: 4MiB\n"
            "  max_partial_message_bytes_total: 6MiB\n"))
        holder = connected(g)
        self.assertEqual(send_partial(holder, [4, 5, 6], declared=2 * MIB, sent=MIB), 3 * MIB)
        self.assertEqual(wait_metric(g, "rtmpgate_partial_message_bytes", 3 * MIB), 3 * MIB)

        second = connected(g)
        send_partial(second, [4, 5, 6, 7], declared=2 * MIB, sent=MIB)
        self.assertTrue(server_closes(second.sock, timeout=10), "the second connection is still open")
        second.close()
        self.assertEqual(wait_metric(g, REFUSALS, 1, reason="max_partial_message_bytes_total"), 1)
        self.assertEqual(metric(g, REFUSALS, reason="max_partial_message_bytes"), 0)
        reason = "reason=partly received messages of all connections above " \
            "limits.max_partial_message_bytes_total (6291456)"
        self.assertTrue(harness.wait_for(lambda: reason in g.log()), g.log())
        # The first is untouched and still holds its 3 MiB; closing it gives them back.
        self.assertEqual(wait_metric(g, "rtmpgate_partial_message_bytes", 3 * MIB), 3 * MIB)
        self.assertFalse(server_closes(holder.sock, timeout=0.5), "the holder was closed")
        holder.close()
        self.assertEqual(wait_metric(g, "rtmpgate_partial_message_bytes", 0), 0)


if __name__ == "__main__":
    import unittest
    unittest.main()
