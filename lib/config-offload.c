/* SPDX-License-Identifier: MIT */
/*
 * config-offload.c — the group `offload` of the daemon's configuration: where handrec-offload
 * uploads finished takes (an rclone remote), how fast, and how much of the disk it keeps free.
 * handrecd itself uploads nothing (it has no network); it reads the group so that
 * `--check-config` checks it and a StorageFull refusal can name the upload backlog.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-check.h"
#include "config.h"

static const struct config_key offload_keys[] = {
        {"remote", K_STRING},
        {"rclone_config", K_STRING},
        {"keep_free_gb", K_FLOAT},
        {"max_takes_gb", K_FLOAT},
        {"bwlimit", K_STRING},
        {"state_dir", K_STRING},
        {"retry_seconds", K_FLOAT},
        {"retry_max_seconds", K_FLOAT},
        {"rclone", K_STRING},
        {"stall_seconds", K_FLOAT},
        {NULL, 0},
};

/* The string member @name of @g, or @def when absent (a wrong type is reported by the table). */
static char *get_string(const config_setting_t *g, const char *name, const char *def) {
        config_setting_t *s = config_setting_get_member(g, name);
        return strdup(s && config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s) : def);
}

static void check_absolute(struct config_checker *ck, const config_setting_t *g, const char *name, const char *v) {
        char full[64];

        snprintf(full, sizeof(full), "offload.%s", name);
        if (v && v[0] != '/')
                config_report(ck, config_setting_get_member(g, name), full, "\"%s\" is not an absolute path", v);
}

static void check_remote(struct config_checker *ck, const config_setting_t *g, const char *v) {
        config_setting_t *s = config_setting_get_member(g, "remote");

        if (!s)
                config_report(ck, g, "offload.remote",
                              "missing: where takes go, an rclone remote and path such as \"takes-s3:bucket/rig1\" "
                              "(README: Getting takes off the board)");
        else if (v && (v[0] == '\0' || strchr(v, '\n') || v[0] == '-'))
                config_report(ck, s, "offload.remote",
                              "\"%s\" is not an rclone remote: give REMOTE:PATH (a remote of offload.rclone_config) "
                              "or an absolute path",
                              v);
}

void config_parse_offload(struct config_checker *ck, config_t *cfg, struct config *c) {
        config_setting_t *g = config_lookup(cfg, "offload");
        struct offload_config *o = &c->offload;

        if (!g || config_setting_type(g) != CONFIG_TYPE_GROUP)
                return;
        o->enabled = true;
        config_check_members(ck, g, "offload", offload_keys);
        o->remote = get_string(g, "remote", "");
        o->rclone_config = get_string(g, "rclone_config", OFFLOAD_RCLONE_CONFIG_DEFAULT);
        o->bwlimit = get_string(g, "bwlimit", "");
        o->state_dir = get_string(g, "state_dir", OFFLOAD_STATE_DIR_DEFAULT);
        o->rclone = get_string(g, "rclone", "rclone");
        check_remote(ck, g, o->remote);
        check_absolute(ck, g, "rclone_config", o->rclone_config);
        check_absolute(ck, g, "state_dir", o->state_dir);
        if (o->bwlimit && (o->bwlimit[0] == '-' || strchr(o->bwlimit, '\n')))
                config_report(ck, config_setting_get_member(g, "bwlimit"), "offload.bwlimit",
                              "\"%s\" is not an rclone --bwlimit: give a rate such as \"8M\" or \"512k\", or a "
                              "timetable such as \"08:00,4M 19:00,off\"",
                              o->bwlimit);
        config_get_double(ck, g, "offload", "keep_free_gb", 0, 1e6, &o->keep_free_gb);
        config_get_double(ck, g, "offload", "max_takes_gb", 0, 1e6, &o->max_takes_gb);
        config_get_double(ck, g, "offload", "retry_seconds", 0.1, 86400, &o->retry_seconds);
        config_get_double(ck, g, "offload", "retry_max_seconds", 0.1, 86400, &o->retry_max_seconds);
        config_get_double(ck, g, "offload", "stall_seconds", 1, 86400, &o->stall_seconds);
        if (o->retry_max_seconds < o->retry_seconds)
                config_report(ck, config_setting_get_member(g, "retry_max_seconds") ?: g, "offload.retry_max_seconds",
                              "%g is less than offload.retry_seconds = %g", o->retry_max_seconds, o->retry_seconds);
}

void offload_config_free(struct offload_config *o) {
        free(o->remote);
        free(o->rclone_config);
        free(o->bwlimit);
        free(o->state_dir);
        free(o->rclone);
        *o = (struct offload_config){};
}
