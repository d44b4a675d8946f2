/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-upload.c — what handrecctl asks handrec-offload (org.handrec1.Offload, the uploader
 * of issue 11): its Status for `handrecctl status`' upload line, and its ListUploads for the UPLOAD
 * column of `handrecctl takes`. The service is optional: when it is not on the bus (not
 * installed, stopped) the upload state is left out, silently, and status and takes work as they
 * did. Calls are sent with the auto-start flag off, so asking never starts the uploader.
 */
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "../lib/bus-names.h"
#include "../lib/util.h"
#include "handrecctl.h"

/* How long status and takes wait for the uploader: it answers from its main loop (rclone is a
 * child process), so more than this is a hung service, and the hands' status must not wait on it. */
#define OFFLOAD_CALL_USEC (5 * UINT64_C(1000000))

#define STATUS_FIELD(member, key, signature) DICT_FIELD(struct upload_status, member, key, signature)
static const struct dict_field status_fields[] = {
        STATUS_FIELD(state, "State", "s"),
        STATUS_FIELD(remote, "Remote", "s"),
        STATUS_FIELD(takes_behind, "TakesBehind", "u"),
        STATUS_FIELD(bytes_behind, "BytesBehind", "t"),
        STATUS_FIELD(rate, "Rate", "d"),
        STATUS_FIELD(current, "Current", "s"),
        STATUS_FIELD(current_done, "CurrentDone", "t"),
        STATUS_FIELD(current_size, "CurrentSize", "t"),
        STATUS_FIELD(last_error, "LastError", "s"),
        STATUS_FIELD(next_retry, "NextRetry", "d"),
        STATUS_FIELD(uploaded, "Uploaded", "u"),
        STATUS_FIELD(removed, "Removed", "u"),
        STATUS_FIELD(free_bytes, "FreeBytes", "t"),
        STATUS_FIELD(keep_free_bytes, "KeepFreeBytes", "t"),
        STATUS_FIELD(max_takes_bytes, "MaxTakesBytes", "t"),
        STATUS_FIELD(space_note, "SpaceNote", "s"),
};

#define UPLOAD_FIELD(member, key, signature) DICT_FIELD(struct take_upload, member, key, signature)
static const struct dict_field take_upload_fields[] = {
        UPLOAD_FIELD(state, "state", "s"),
        UPLOAD_FIELD(error, "error", "s"),
        UPLOAD_FIELD(remote, "remote", "s"),
};

/* Whether @e says nobody owns the uploader's name (never started: auto-start is off). */
static bool service_absent(const sd_bus_error *e) {
        return sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
               sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER);
}

int upload_call(sd_bus *bus, const char *member, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, OFFLOAD_BUS_NAME, OFFLOAD_PATH, OFFLOAD_INTERFACE, member);
        if (r >= 0)
                r = sd_bus_message_set_auto_start(m, false);
        if (r >= 0)
                r = sd_bus_call(bus, m, OFFLOAD_CALL_USEC, &error, ret_reply);
        if (r >= 0)
                return 1;
        if (service_absent(&error))
                return 0;
        fprintf(stderr, "handrecctl: cannot ask handrec-offload for its uploads (left out): %s\n",
                error.message ?: strerror(-r));
        return 0;
}

int upload_read_status(sd_bus_message *reply, struct upload_status *ret) {
        *ret = (struct upload_status){};
        return read_dict(reply, status_fields, ELEMENTSOF(status_fields), ret);
}

/* ", 8.4MB/s" while uploading, ", verifying", "; failed: ...; retry in 25 s" while waiting, and
 * "; last attempt failed: ..." while trying again. */
static void append_activity(const struct upload_status *s, char *buf, size_t len) {
        size_t n = strlen(buf);
        char rate[32];

        if (streq(s->state, "uploading") && s->rate > 0)
                snprintf(buf + n, len - n, ", %s/s", format_bytes(rate, sizeof(rate), (uint64_t) s->rate));
        else if (streq(s->state, "verifying"))
                snprintf(buf + n, len - n, ", verifying");
        else if (streq(s->state, "waiting"))
                snprintf(buf + n, len - n, "; failed: %s; retry in %.0f s", s->last_error[0] ? s->last_error : "?",
                         ceil(s->next_retry > 0 ? s->next_retry : 0));
        else if (!streq(s->state, "uploading"))
                snprintf(buf + n, len - n, " (%s)", s->state); /* a state this client does not know yet */
        /* trying again after a failure: the failure is still the news */
        n = strlen(buf);
        if (!streq(s->state, "waiting") && s->last_error[0])
                snprintf(buf + n, len - n, "; last attempt failed: %s", s->last_error);
}

char *upload_line(const struct upload_status *s, char *buf, size_t len) {
        char behind[32];

        if (streq(s->state, "off"))
                snprintf(buf, len, "upload: off%s%s%s", s->last_error[0] ? " (" : "", s->last_error,
                         s->last_error[0] ? ")" : "");
        else if (streq(s->state, "idle"))
                snprintf(buf, len, "upload: nothing behind (%s)", s->remote);
        else {
                snprintf(buf, len, "upload: %u take%s, %s behind", s->takes_behind, s->takes_behind == 1 ? "" : "s",
                         format_bytes(behind, sizeof(behind), s->bytes_behind));
                append_activity(s, buf, len);
        }
        return buf;
}

int upload_show_status(sd_bus *bus, json_object *o) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        json_object *value = NULL;
        struct upload_status s;
        char line[4096];
        int r;

        if (upload_call(bus, "Status", &reply) <= 0)
                return 0;
        if (o) {
                r = json_read_value(reply, &value);
                if (r >= 0)
                        json_object_object_add(o, "upload", value);
        } else {
                r = upload_read_status(reply, &s);
                if (r >= 0)
                        printf("%s\n", upload_line(&s, line, sizeof(line)));
        }
        if (r < 0)
                fprintf(stderr, "handrecctl: cannot read handrec-offload's Status (left out): %s\n", strerror(-r));
        return 0;
}

int upload_each(sd_bus_message *reply, void (*fn)(const char *file, const struct take_upload *u, void *userdata),
                void *userdata) {
        struct take_upload u;
        const char *file;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "(sa{sv})");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'r', "sa{sv}")) > 0) {
                u = (struct take_upload){};
                r = sd_bus_message_read(reply, "s", &file);
                if (r >= 0)
                        r = read_dict(reply, take_upload_fields, ELEMENTSOF(take_upload_fields), &u);
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                if (r >= 0)
                        fn(file, &u, userdata);
        }
        if (r < 0)
                fprintf(stderr, "handrecctl: cannot read handrec-offload's ListUploads (left out): %s\n", strerror(-r));
        return r;
}
