// Small, pure adjustments of the browser's offer (protocol.md, "WebRTC session"):
// H.264 first among the video codecs, and stereo Opus.

/**
 * Codec capabilities (RTCRtpCodecCapability-like) reordered so that H.264 comes first:
 * packetization-mode=1 before 0, constrained baseline 42e01f first among those; every other
 * codec keeps its place after them. Nothing is removed, so a desktop that cannot send
 * H.264 still finds what it can.
 * @param {{mimeType: string, sdpFmtpLine?: string}[]} codecs
 */
export function preferH264(codecs) {
  const rank = (codec) => {
    if (codec.mimeType.toLowerCase() !== 'video/h264') return 3;
    const fmtp = (codec.sdpFmtpLine ?? '').toLowerCase();
    const mode1 = /packetization-mode=1/.test(fmtp);
    if (mode1 && /profile-level-id=42e01f/.test(fmtp)) return 0;
    return mode1 ? 1 : 2;
  };
  return codecs.map((codec, index) => ({ codec, index, rank: rank(codec) }))
    .sort((a, b) => a.rank - b.rank || a.index - b.index)
    .map((entry) => entry.codec);
}

/**
 * An SDP whose Opus fmtp lines ask for stereo (RFC 7587 §6.1: `stereo=1` says the receiver
 * prefers stereo; Chromium decodes Opus as mono unless its own description says so).
 * @param {string} sdp
 */
export function withStereoOpus(sdp) {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(eol);
  const opus = new Set();
  for (const line of lines) {
    const match = /^a=rtpmap:(\d+) opus\/48000/i.exec(line);
    if (match) opus.add(match[1]);
  }
  return lines.map((line) => {
    const match = /^a=fmtp:(\d+) (.*)$/.exec(line);
    if (!match || !opus.has(match[1])) return line;
    const params = match[2].split(';').map((p) => p.trim()).filter((p) => p && !/^(sprop-)?stereo=/i.test(p));
    params.push('stereo=1', 'sprop-stereo=1');
    return `a=fmtp:${match[1]} ${params.join(';')}`;
  }).join(eol);
}
