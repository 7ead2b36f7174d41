// Turns an RTCStatsReport (W3C webrtc-stats) into the numbers of the metrics overlay.
// Pure: takes the report (or any iterable of stats objects) and the previous summary, so
// tests can feed it fake reports.

/**
 * What kind of path the selected candidate pair uses (webrtc-stats RTCIceCandidateType):
 * any relay end -> 'relayed'; else any srflx/prflx end -> 'reflexive'; both host -> 'direct'.
 * @param {string | undefined} localType
 * @param {string | undefined} remoteType
 * @returns {'direct' | 'reflexive' | 'relayed' | 'unknown'}
 */
export function pathKind(localType, remoteType) {
  const types = [localType, remoteType];
  if (types.includes('relay')) return 'relayed';
  if (types.includes('srflx') || types.includes('prflx')) return 'reflexive';
  if (localType === 'host' && remoteType === 'host') return 'direct';
  return 'unknown';
}

function selectedPair(byId, all) {
  for (const stat of all) {
    if (stat.type === 'transport' && stat.selectedCandidatePairId && byId.has(stat.selectedCandidatePairId)) {
      return byId.get(stat.selectedCandidatePairId);
    }
  }
  return all.find((s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded')
    ?? all.find((s) => s.type === 'candidate-pair' && s.selected);
}

/**
 * @param {Iterable<any> | {forEach: Function}} report an RTCStatsReport or an array of stats
 * @param {ReturnType<typeof summarizeStats> | null} previous the last summary (for rates)
 * @returns {{timestamp: number, rttMs: number | null, videoDelayMs: number | null,
 *   bitrateKbps: number | null, framesDecoded: number, framesDropped: number, fps: number | null,
 *   width: number | null, height: number | null, path: string, localType: string | null,
 *   remoteType: string | null, protocol: string | null, codec: string | null, bytesReceived: number,
 *   packetsLost: number, jitterMs: number | null}}
 */
export function summarizeStats(report, previous = null) {
  const all = [];
  if (typeof report.forEach === 'function') report.forEach((s) => all.push(s));
  else for (const s of report) all.push(s);
  const byId = new Map(all.map((s) => [s.id, s]));

  const video = all.find((s) => s.type === 'inbound-rtp' && (s.kind ?? s.mediaType) === 'video');
  const audio = all.find((s) => s.type === 'inbound-rtp' && (s.kind ?? s.mediaType) === 'audio');
  const pair = selectedPair(byId, all);
  const local = pair ? byId.get(pair.localCandidateId) : undefined;
  const remote = pair ? byId.get(pair.remoteCandidateId) : undefined;
  const codec = video?.codecId ? byId.get(video.codecId) : undefined;

  const timestamp = video?.timestamp ?? pair?.timestamp ?? all[0]?.timestamp ?? 0;
  const bytesReceived = (video?.bytesReceived ?? 0) + (audio?.bytesReceived ?? 0);
  let bitrateKbps = null;
  if (previous && timestamp > previous.timestamp && bytesReceived >= previous.bytesReceived) {
    bitrateKbps = ((bytesReceived - previous.bytesReceived) * 8) / (timestamp - previous.timestamp);
  }
  let videoDelayMs = null;
  if (video && video.jitterBufferEmittedCount > 0) {
    videoDelayMs = (video.jitterBufferDelay / video.jitterBufferEmittedCount) * 1000;
  }
  const rtt = pair?.currentRoundTripTime;
  return {
    timestamp,
    rttMs: typeof rtt === 'number' ? rtt * 1000 : null,
    videoDelayMs,
    bitrateKbps,
    framesDecoded: video?.framesDecoded ?? 0,
    framesDropped: video?.framesDropped ?? 0,
    fps: video?.framesPerSecond ?? null,
    width: video?.frameWidth ?? null,
    height: video?.frameHeight ?? null,
    path: pathKind(local?.candidateType, remote?.candidateType),
    localType: local?.candidateType ?? null,
    remoteType: remote?.candidateType ?? null,
    protocol: local?.relayProtocol ?? local?.protocol ?? null,
    codec: codec?.mimeType ?? null,
    bytesReceived,
    packetsLost: (video?.packetsLost ?? 0) + (audio?.packetsLost ?? 0),
    jitterMs: typeof video?.jitter === 'number' ? video.jitter * 1000 : null,
  };
}
