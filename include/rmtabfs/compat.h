/* The one place that includes libfuse, with the API version this project is written to. */
#ifndef RMTABFS_COMPAT_H
#define RMTABFS_COMPAT_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif
#include <fuse_lowlevel.h>
#include <fuse_opt.h>

#endif
