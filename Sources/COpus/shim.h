// libopus (Debian libopus-dev). opus_encoder_ctl is variadic: wrappers below.
#ifndef POD_ARCADE_COPUS_SHIM_H
#define POD_ARCADE_COPUS_SHIM_H
#include <opus/opus.h>
static inline int pa_opus_set_bitrate(OpusEncoder *enc, opus_int32 bitrate) {
    return opus_encoder_ctl(enc, OPUS_SET_BITRATE(bitrate));
}
static inline int pa_opus_set_inband_fec(OpusEncoder *enc, opus_int32 on) {
    return opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(on));
}
static inline int pa_opus_set_packet_loss_perc(OpusEncoder *enc, opus_int32 percent) {
    return opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(percent));
}
#endif
