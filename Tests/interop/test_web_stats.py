"""The metrics overlay's arithmetic (js/stats.js) and the ICE server parsing of
js/session.js, run in headless Chromium on made-up getStats() reports."""

from __future__ import annotations

import pytest

from web_support import static_page  # noqa: F401 - fixture


def summarize(page, report: list[dict], previous: dict | None = None) -> dict:
    return page.module(
        "const s = await import('/js/stats.js'); return s.summarizeStats(arguments[0], arguments[1]);",
        report, previous)


def report(local_type: str = "host", remote_type: str = "host", **video) -> list[dict]:
    inbound = {
        "id": "IT01V", "type": "inbound-rtp", "kind": "video", "timestamp": 10_000.0, "codecId": "C1",
        "framesDecoded": 300, "framesDropped": 2, "framesPerSecond": 30, "frameWidth": 1280, "frameHeight": 720,
        "jitterBufferDelay": 6.0, "jitterBufferEmittedCount": 300, "bytesReceived": 1_000_000, "packetsLost": 1,
        "jitter": 0.004,
    }
    inbound.update(video)
    return [
        {"id": "T1", "type": "transport", "selectedCandidatePairId": "CP1", "timestamp": 10_000.0},
        {"id": "CP1", "type": "candidate-pair", "localCandidateId": "L1", "remoteCandidateId": "R1",
         "currentRoundTripTime": 0.0123, "nominated": True, "state": "succeeded", "timestamp": 10_000.0},
        {"id": "CP2", "type": "candidate-pair", "localCandidateId": "L2", "remoteCandidateId": "R1",
         "currentRoundTripTime": 0.5, "state": "failed", "timestamp": 10_000.0},
        {"id": "L1", "type": "local-candidate", "candidateType": local_type, "protocol": "udp"},
        {"id": "L2", "type": "local-candidate", "candidateType": "relay", "protocol": "udp"},
        {"id": "R1", "type": "remote-candidate", "candidateType": remote_type},
        {"id": "C1", "type": "codec", "mimeType": "video/H264"},
        inbound,
        {"id": "IT01A", "type": "inbound-rtp", "kind": "audio", "timestamp": 10_000.0, "bytesReceived": 50_000,
         "packetsLost": 3},
    ]


def test_a_report_gives_round_trip_delay_frames_and_codec(static_page) -> None:
    got = summarize(static_page, report())
    assert got["rttMs"] == pytest.approx(12.3)
    assert got["videoDelayMs"] == pytest.approx(20.0)  # 6 s of buffer delay over 300 frames
    assert (got["framesDecoded"], got["framesDropped"], got["fps"]) == (300, 2, 30)
    assert (got["width"], got["height"], got["codec"]) == (1280, 720, "video/H264")
    assert got["path"] == "direct"
    assert got["bitrateKbps"] is None  # needs two reports
    assert got["packetsLost"] == 4
    assert got["jitterMs"] == pytest.approx(4.0)


def test_the_bitrate_comes_from_two_reports(static_page) -> None:
    first = summarize(static_page, report())
    later = report(bytesReceived=1_250_000, timestamp=11_000.0)
    got = summarize(static_page, later, first)
    assert got["bitrateKbps"] == pytest.approx(2000.0)  # 250,000 bytes in one second


@pytest.mark.parametrize(("local", "remote", "path"), [
    ("host", "host", "direct"),
    ("srflx", "host", "reflexive"),
    ("host", "prflx", "reflexive"),
    ("relay", "host", "relayed"),
    ("srflx", "relay", "relayed"),
])
def test_the_path_is_direct_reflexive_or_relayed(static_page, local: str, remote: str, path: str) -> None:
    assert summarize(static_page, report(local, remote))["path"] == path


def test_without_a_selected_pair_the_nominated_one_is_used(static_page) -> None:
    stats = [s for s in report("srflx") if s["type"] != "transport"]
    got = summarize(static_page, stats)
    assert got["path"] == "reflexive" and got["rttMs"] == pytest.approx(12.3)


def test_an_empty_report_gives_empty_numbers(static_page) -> None:
    got = summarize(static_page, [])
    assert got["rttMs"] is None and got["videoDelayMs"] is None and got["path"] == "unknown"
    assert got["framesDecoded"] == 0


def test_ice_server_lists_are_parsed_and_garbage_is_ignored(static_page) -> None:
    got = static_page.module("""
        const { parseIceServers } = await import('/js/session.js');
        return [
          parseIceServers('[{"urls":["stun:127.0.0.1:3478"]},{"urls":"turn:127.0.0.1?transport=udp","username":"u","credential":"p","credentialType":"password"}]'),
          parseIceServers('not json'), parseIceServers('{"urls":"stun:x"}'), parseIceServers('[{"nourls":1}, null, 5]'),
        ];
    """)
    assert got == [
        [{"urls": ["stun:127.0.0.1:3478"]}, {"urls": "turn:127.0.0.1?transport=udp", "username": "u", "credential": "p"}],
        [], [], [],
    ]


def test_h264_is_put_first_and_nothing_is_removed(static_page) -> None:
    codecs = [
        {"mimeType": "video/VP8"},
        {"mimeType": "video/H264", "sdpFmtpLine": "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f"},
        {"mimeType": "video/rtx", "sdpFmtpLine": "apt=96"},
        {"mimeType": "video/H264", "sdpFmtpLine": "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f"},
        {"mimeType": "video/H264", "sdpFmtpLine": "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
        {"mimeType": "video/AV1"},
    ]
    got = static_page.module("const s = await import('/js/sdp.js'); return s.preferH264(arguments[0]);", codecs)
    assert got == [codecs[4], codecs[3], codecs[1], codecs[0], codecs[2], codecs[5]]


def test_opus_fmtp_lines_ask_for_stereo_and_other_lines_stay(static_page) -> None:
    sdp = "\r\n".join([
        "v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9", "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 minptime=10;useinbandfec=1;stereo=0", "a=rtpmap:63 red/48000/2", "a=fmtp:63 111/111",
        "a=rtpmap:9 G722/8000", "",
    ])
    got = static_page.module("const s = await import('/js/sdp.js'); return s.withStereoOpus(arguments[0]);", sdp)
    assert got == sdp.replace("a=fmtp:111 minptime=10;useinbandfec=1;stereo=0",
                              "a=fmtp:111 minptime=10;useinbandfec=1;stereo=1;sprop-stereo=1")


def test_the_broker_url_follows_the_pages_scheme_and_host(static_page) -> None:
    got = static_page.module("""
        const { brokerUrl } = await import('/js/session.js');
        return [brokerUrl({protocol: 'http:', host: '127.0.0.1:8080'}),
                brokerUrl({protocol: 'https:', host: 'arcade.example:8443'})];
    """)
    assert got == ["ws://127.0.0.1:8080/mqtt", "wss://arcade.example:8443/mqtt"]


def test_random_ids_are_alphanumeric_of_the_asked_length(static_page) -> None:
    got = static_page.module("""
        const { randomAlphanumeric } = await import('/js/auth.js');
        return Array.from({length: 200}, () => randomAlphanumeric(16));
    """)
    assert all(len(value) == 16 and value.isascii() and value.isalnum() for value in got)
    assert len(set(got)) == 200
    assert len(set("".join(got))) > 55  # all of [A-Za-z0-9] show up in 3,200 characters
