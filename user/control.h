/*
 * control.h - the daemon's control socket: newline-delimited JSON over a
 * UNIX stream socket, served by its own thread so that a slow or stuck
 * client can never stall the capture loop.
 *
 *   request:  {"cmd":"stats"}            reply: {"ok":true,"data":{...}}
 *   request:  {"cmd":"ping"}             reply: {"ok":true,"version":"..."}
 *   anything else                        reply: {"ok":false,"error":"..."}
 *
 * The capture loop publishes a ready-made JSON object (the "data" member)
 * with control_publish(); the thread serves the latest one.
 */
#ifndef SMTPMON_CONTROL_H
#define SMTPMON_CONTROL_H

#include <stddef.h>

#define CONTROL_DEFAULT_DIR  "/run/smtpmon" /* systemd RuntimeDirectory=smtpmon */
#define CONTROL_DEFAULT_PATH CONTROL_DEFAULT_DIR "/control.sock"

struct control;

/* NULL after printing "smtpmon: control socket PATH: reason" on stderr. */
struct control *control_start(const char *path);
void control_publish(struct control *c, const char *json_object, size_t len);
/* Stops the thread, closes and removes the socket. NULL is fine. */
void control_stop(struct control *c);

#endif
