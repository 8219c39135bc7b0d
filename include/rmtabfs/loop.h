/*
 * The FUSE request loop: worker threads that can be paused with no request half-handled
 * (for a handover) and resumed, and the main thread's events (stop, reload).
 */
#ifndef RMTABFS_LOOP_H
#define RMTABFS_LOOP_H

#include <stdbool.h>
#include <stddef.h>

struct fuse_session;
struct rfs_loop;

enum rfs_loop_event {
	RFS_EV_STOP,	   /* a stop signal, an unmount, or a fatal read error */
	RFS_EV_RELOAD,	   /* SIGUSR2 */
	RFS_EV_RELOAD_CTL, /* rmtabctl restart: answer through rfs_loop_reload_done */
};

/* Installs the signal handlers (stop: TERM, INT, HUP; reload: USR2; SIGPIPE ignored). */
struct rfs_loop *rfs_loop_new(struct fuse_session *se, unsigned max_threads);
void rfs_loop_free(struct rfs_loop *l);
int rfs_loop_start(struct rfs_loop *l);
/* Returns once no thread reads /dev/fuse and every request read has been answered. */
void rfs_loop_pause(struct rfs_loop *l);
/* The next event (blocks); *error: a read error ended the loop (-errno) or 0. */
enum rfs_loop_event rfs_loop_wait(struct rfs_loop *l, int *error);

/* A stop came while a reload ran (the events read meanwhile are dropped). */
bool rfs_loop_stop_pending(struct rfs_loop *l);

/*
 * From the control thread: asks the main thread for a reload and waits for its outcome.
 * 0: a new image took over (msg says which); -errno: refused, the old one serves (msg why).
 */
int rfs_loop_request_reload(char *msg, size_t len);
/* The main thread's answer to RFS_EV_RELOAD_CTL. */
void rfs_loop_reload_done(struct rfs_loop *l, int rc, const char *msg);
/*
 * Control commands run between begin and end (restart excepted); a reload sets reloading,
 * then waits for the command under way, so none changes the state it hands over.
 */
void rfs_loop_command_begin(void);
void rfs_loop_command_end(void);
void rfs_loop_wait_commands(void);
/* True between a reload's start and its end (control commands then refuse). */
int rfs_loop_reloading(void);
void rfs_loop_set_reloading(int on);
/* The control thread has sent its answer to "restart" (the old image may now exit). */
void rfs_loop_reload_replied(void);
/* Waits up to max_ms for that. */
void rfs_loop_wait_replied(int max_ms);

#endif
