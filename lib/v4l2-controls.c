/* SPDX-License-Identifier: MIT */
/*
 * v4l2-controls.c — owns a V4L2 device's controls, named as `v4l2-ctl --list-ctrls` names them
 * (v4l-utils' name2var()): enumerating them, checking a configuration's camera.controls against
 * them (config-hand.c, when the device is present), applying them each time a camera opens
 * (capture-v4l2.c), reading the values in force back (a take's camera_controls attribute,
 * writer.c) and describing them (`handrecctl devices`). Every ioctl goes through v4l2_xioctl(),
 * so a device opened with v4l2_open() gets libv4l2's handling of its controls.
 */
#include "v4l2-controls.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/videodev2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util.h"
#include "v4l2-describe.h"

#define VIDEO_MAJOR 81

static bool is_alnum(char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

const char *v4l2_control_name(const char *label, char ret[static CAMERA_CONTROL_NAME_MAX]) {
        size_t n = 0;
        bool gap = false;

        for (const char *p = label; *p && n < CAMERA_CONTROL_NAME_MAX - 1; p++) {
                if (!is_alnum(*p)) {
                        gap = n > 0; /* an underscore only between two words */
                        continue;
                }
                if (gap && n < CAMERA_CONTROL_NAME_MAX - 2)
                        ret[n++] = '_';
                gap = false;
                ret[n++] = *p >= 'A' && *p <= 'Z' ? (char) (*p - 'A' + 'a') : *p;
        }
        ret[n] = 0;
        return ret;
}

/* ---- enumerating ------------------------------------------------------------------------- */

static int query_ext(int fd, uint32_t id, struct v4l2_control_info *c) {
        struct v4l2_query_ext_ctrl q = {.id = id};
        int r = v4l2_xioctl(fd, VIDIOC_QUERY_EXT_CTRL, &q);

        if (r < 0)
                return r;
        *c = (struct v4l2_control_info){
                .id = q.id,
                .type = q.type,
                .flags = q.flags,
                .minimum = q.minimum,
                .maximum = q.maximum,
                .step = (int64_t) q.step,
                .default_value = q.default_value,
        };
        snprintf(c->label, sizeof(c->label), "%.*s", (int) sizeof(q.name), q.name);
        return 0;
}

/* drivers older than VIDIOC_QUERY_EXT_CTRL (Linux 3.17) */
static int query_old(int fd, uint32_t id, struct v4l2_control_info *c) {
        struct v4l2_queryctrl q = {.id = id};
        int r = v4l2_xioctl(fd, VIDIOC_QUERYCTRL, &q);

        if (r < 0)
                return r;
        *c = (struct v4l2_control_info){
                .id = q.id,
                .type = q.type,
                .flags = q.flags,
                .minimum = q.minimum,
                .maximum = q.maximum,
                .step = q.step,
                .default_value = q.default_value,
        };
        snprintf(c->label, sizeof(c->label), "%.*s", (int) sizeof(q.name), (const char *) q.name);
        return 0;
}

int v4l2_control_next(int fd, struct v4l2_control_info *c) {
        uint32_t id = c->id;

        for (;;) {
                int r = query_ext(fd, id | V4L2_CTRL_FLAG_NEXT_CTRL, c);
                if (r == -ENOTTY)
                        r = query_old(fd, id | V4L2_CTRL_FLAG_NEXT_CTRL, c);
                if (r < 0)
                        return 0;
                id = c->id;
                /* headings, and what v4l2-ctl does not list either */
                if (c->type == V4L2_CTRL_TYPE_CTRL_CLASS || (c->flags & V4L2_CTRL_FLAG_DISABLED))
                        continue;
                v4l2_control_name(c->label, c->name);
                return 1;
        }
}

/* Controls whose names changed: older UVC drivers (JetPack 5's Linux 5.10 among them) gave them
 * names of their own, newer ones the framework's standard names. Either finds the control on any
 * kernel, so a configuration written on one machine works on the other. */
static const struct {
        uint32_t id;
        const char *names[2];
} renamed[] = {
        {V4L2_CID_EXPOSURE_AUTO, {"exposure_auto", "auto_exposure"}},
        {V4L2_CID_EXPOSURE_ABSOLUTE, {"exposure_absolute", "exposure_time_absolute"}},
        {V4L2_CID_AUTO_WHITE_BALANCE, {"white_balance_temperature_auto", "white_balance_automatic"}},
        {V4L2_CID_FOCUS_AUTO, {"focus_auto", "focus_automatic_continuous"}},
        {V4L2_CID_EXPOSURE_AUTO_PRIORITY, {"exposure_auto_priority", "exposure_dynamic_framerate"}},
};

/* The control @name names by its other name (renamed[]), called @name in messages. */
static int find_renamed(int fd, const char *name, struct v4l2_control_info *ret) {
        for (size_t i = 0; i < ELEMENTSOF(renamed); i++) {
                struct v4l2_control_info c;
                int r;

                if (!streq(renamed[i].names[0], name) && !streq(renamed[i].names[1], name))
                        continue;
                r = query_ext(fd, renamed[i].id, &c);
                if (r == -ENOTTY)
                        r = query_old(fd, renamed[i].id, &c);
                if (r < 0 || (c.flags & V4L2_CTRL_FLAG_DISABLED))
                        return -ENOENT;
                snprintf(c.name, sizeof(c.name), "%s", name);
                *ret = c;
                return 0;
        }
        return -ENOENT;
}

int v4l2_control_find(int fd, const char *name, struct v4l2_control_info *ret) {
        struct v4l2_control_info c = {};

        while (v4l2_control_next(fd, &c) > 0)
                if (streq(c.name, name)) {
                        *ret = c;
                        return 0;
                }
        return find_renamed(fd, name, ret);
}

/* "brightness, contrast, ..." into @buf, as much as fits */
static const char *list_names(int fd, char *buf, size_t len) {
        struct v4l2_control_info c = {};
        size_t n = 0;

        buf[0] = 0;
        while (v4l2_control_next(fd, &c) > 0 && n < len) {
                int w = snprintf(buf + n, len - n, "%s%s", n ? ", " : "", c.name);
                if (w < 0 || (size_t) w >= len - n) {
                        buf[n] = 0;
                        snprintf(buf + n, len - n, "%s...", n ? ", " : "");
                        break;
                }
                n += (size_t) w;
        }
        return buf[0] ? buf : "no controls at all";
}

/* Edits (insert, delete, replace a character) from @a to @b; names are short. */
static unsigned edit_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        unsigned row[CAMERA_CONTROL_NAME_MAX + 1];

        if (la >= CAMERA_CONTROL_NAME_MAX || lb >= CAMERA_CONTROL_NAME_MAX)
                return UINT_MAX;
        for (size_t j = 0; j <= lb; j++)
                row[j] = (unsigned) j;
        for (size_t i = 1; i <= la; i++) {
                unsigned diag = row[0];
                row[0] = (unsigned) i;
                for (size_t j = 1; j <= lb; j++) {
                        unsigned up = row[j];
                        row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), diag + (a[i - 1] != b[j - 1]));
                        diag = up;
                }
        }
        return row[lb];
}

/* The device's control nearest to @name (a typo: at most 2 edits), into @buf; NULL when none is. */
static const char *nearest_name(int fd, const char *name, char buf[static CAMERA_CONTROL_NAME_MAX]) {
        struct v4l2_control_info c = {};
        unsigned best = 3;

        buf[0] = 0;
        while (v4l2_control_next(fd, &c) > 0) {
                unsigned d = edit_distance(name, c.name);
                if (d < best) {
                        best = d;
                        memcpy(buf, c.name, sizeof(c.name));
                }
        }
        return buf[0] ? buf : NULL;
}

/* ---- checking ---------------------------------------------------------------------------- */

static bool is_settable_type(uint32_t type) {
        switch (type) {
        case V4L2_CTRL_TYPE_INTEGER:
        case V4L2_CTRL_TYPE_INTEGER64:
        case V4L2_CTRL_TYPE_BOOLEAN:
        case V4L2_CTRL_TYPE_MENU:
        case V4L2_CTRL_TYPE_INTEGER_MENU:
        case V4L2_CTRL_TYPE_BITMASK: return true;
        default: return false;
        }
}

static bool is_menu(uint32_t type) {
        return type == V4L2_CTRL_TYPE_MENU || type == V4L2_CTRL_TYPE_INTEGER_MENU;
}

static const char *type_name(uint32_t type) {
        switch (type) {
        case V4L2_CTRL_TYPE_INTEGER: return "int";
        case V4L2_CTRL_TYPE_INTEGER64: return "int64";
        case V4L2_CTRL_TYPE_BOOLEAN: return "bool";
        case V4L2_CTRL_TYPE_MENU: return "menu";
        case V4L2_CTRL_TYPE_INTEGER_MENU: return "intmenu";
        case V4L2_CTRL_TYPE_BITMASK: return "bitmask";
        case V4L2_CTRL_TYPE_BUTTON: return "button";
        case V4L2_CTRL_TYPE_STRING: return "str";
        default: return "compound";
        }
}

/* The menu item @index of @c as text ("Manual Mode", or the integer of an integer menu), or NULL
 * when the menu has no such item. */
static const char *menu_item(int fd, const struct v4l2_control_info *c, int64_t index, char *buf, size_t len) {
        struct v4l2_querymenu m = {.id = c->id, .index = (uint32_t) index};

        if (index < 0 || index > UINT32_MAX || v4l2_xioctl(fd, VIDIOC_QUERYMENU, &m) < 0)
                return NULL;
        if (c->type == V4L2_CTRL_TYPE_INTEGER_MENU)
                snprintf(buf, len, "%lld", (long long) m.value);
        else
                snprintf(buf, len, "%.*s", (int) sizeof(m.name), (const char *) m.name);
        return buf;
}

/* "1 (Manual Mode), 3 (Aperture Priority Mode)" */
static const char *list_menu(int fd, const struct v4l2_control_info *c, char *buf, size_t len) {
        size_t n = 0;
        char item[64];

        buf[0] = 0;
        for (int64_t i = MAX(c->minimum, 0); i <= c->maximum && i - c->minimum < 256 && n < len; i++) {
                if (!menu_item(fd, c, i, item, sizeof(item)))
                        continue;
                int w = snprintf(buf + n, len - n, "%s%lld (%s)", n ? ", " : "", (long long) i, item);
                if (w < 0)
                        break;
                n += (size_t) w;
        }
        return buf;
}

static int check_range(int fd, const struct v4l2_control_info *c, int64_t value, char *error, size_t error_len) {
        char items[512];

        if (c->type == V4L2_CTRL_TYPE_BITMASK) {
                if (value < 0 || ((uint64_t) value & ~(uint64_t) (uint32_t) c->maximum) != 0) {
                        snprintf(error, error_len, "%s = %lld has bits outside its mask 0x%llx", c->name,
                                 (long long) value, (unsigned long long) (uint32_t) c->maximum);
                        return -EINVAL;
                }
                return 0;
        }
        if (value < c->minimum || value > c->maximum) {
                snprintf(error, error_len, "%s = %lld is out of range: it takes %lld to %lld (step %lld, default %lld)",
                         c->name, (long long) value, (long long) c->minimum, (long long) c->maximum,
                         (long long) c->step, (long long) c->default_value);
                return -EINVAL;
        }
        if (is_menu(c->type) && !menu_item(fd, c, value, items, sizeof(items))) {
                snprintf(error, error_len, "%s = %lld is not an item of its menu; the items are %s", c->name,
                         (long long) value, list_menu(fd, c, items, sizeof(items)));
                return -EINVAL;
        }
        if (!is_menu(c->type) && c->step > 1 && (value - c->minimum) % c->step != 0) {
                snprintf(error, error_len, "%s = %lld is not on a step: it takes %lld to %lld in steps of %lld",
                         c->name, (long long) value, (long long) c->minimum, (long long) c->maximum,
                         (long long) c->step);
                return -EINVAL;
        }
        return 0;
}

int v4l2_control_check(int fd, const struct v4l2_control_info *c, int64_t value, char *error, size_t error_len) {
        if (c->flags & V4L2_CTRL_FLAG_READ_ONLY) {
                snprintf(error, error_len, "%s is read-only (the camera sets it itself); remove it", c->name);
                return -EINVAL;
        }
        if (c->type == V4L2_CTRL_TYPE_BUTTON) {
                snprintf(error, error_len, "%s is a button (an action, not a setting); remove it", c->name);
                return -EINVAL;
        }
        if (!is_settable_type(c->type)) {
                snprintf(error, error_len,
                         "%s is not a number (a %s control); handrecd sets only integer, boolean, menu and bitmask "
                         "controls; remove it",
                         c->name, type_name(c->type));
                return -EINVAL;
        }
        return check_range(fd, c, value, error, error_len);
}

int v4l2_control_lookup(int fd, const char *path, const struct camera_control *c, struct v4l2_control_info *ret,
                        char *error, size_t error_len) {
        char why[768], near[CAMERA_CONTROL_NAME_MAX], hint[64] = "";
        int r = v4l2_control_find(fd, c->name, ret);

        if (r < 0) {
                if (nearest_name(fd, c->name, near))
                        snprintf(hint, sizeof(hint), " (%s?)", near);
                snprintf(error, error_len,
                         "%s has no control \"%s\"%s; it has: %s (`handrecctl devices` shows their ranges)", path,
                         c->name, hint, list_names(fd, why, sizeof(why)));
                return r;
        }
        r = v4l2_control_check(fd, ret, c->value, why, sizeof(why));
        if (r < 0)
                snprintf(error, error_len, "%s: %s", path, why);
        return r;
}

/* ---- setting and getting ----------------------------------------------------------------- */

static int ext_ctrl(int fd, unsigned long request, const struct v4l2_control_info *c, int64_t *value) {
        struct v4l2_ext_control e = {.id = c->id};
        struct v4l2_ext_controls cs = {.ctrl_class = V4L2_CTRL_ID2CLASS(c->id), .count = 1, .controls = &e};
        int r;

        if (c->type == V4L2_CTRL_TYPE_INTEGER64)
                e.value64 = *value;
        else
                e.value = (int32_t) *value;
        r = v4l2_xioctl(fd, request, &cs);
        if (r < 0 && V4L2_CTRL_ID2CLASS(c->id) == V4L2_CTRL_CLASS_USER && c->type != V4L2_CTRL_TYPE_INTEGER64 &&
            (r == -ENOTTY || r == -EINVAL)) {
                /* a driver without extended controls */
                struct v4l2_control old = {.id = c->id, .value = e.value};
                r = v4l2_xioctl(fd, request == VIDIOC_S_EXT_CTRLS ? VIDIOC_S_CTRL : VIDIOC_G_CTRL, &old);
                e.value = old.value;
        }
        if (r >= 0 && c->type == V4L2_CTRL_TYPE_INTEGER64)
                *value = e.value64;
        else if (r >= 0) /* a bitmask's 32 bits are unsigned */
                *value = c->type == V4L2_CTRL_TYPE_BITMASK ? (int64_t) (uint32_t) e.value : e.value;
        return r < 0 ? r : 0;
}

int v4l2_control_get(int fd, const struct v4l2_control_info *c, int64_t *ret) {
        int64_t v = 0;
        int r = ext_ctrl(fd, VIDIOC_G_EXT_CTRLS, c, &v);

        if (r >= 0)
                *ret = v;
        return r;
}

static int control_set(int fd, const struct v4l2_control_info *c, int64_t value) {
        return ext_ctrl(fd, VIDIOC_S_EXT_CTRLS, c, &value);
}

/* The switches first: an auto control (exposure_auto, white_balance_automatic) before the value it unlocks. */
static bool is_switch(uint32_t type) {
        return type == V4L2_CTRL_TYPE_BOOLEAN || is_menu(type);
}

/* Why setting @c failed, for a person. */
static void set_failed(int fd, const char *path, const struct v4l2_control_info *c, int64_t value, int r, char *error,
                       size_t error_len) {
        struct v4l2_control_info now = *c;

        if (v4l2_control_find(fd, c->name, &now) >= 0 && (now.flags & V4L2_CTRL_FLAG_INACTIVE))
                snprintf(error, error_len,
                         "%s: cannot set %s = %lld: it is inactive while an automatic control governs it; set that "
                         "control to manual in camera.controls too (exposure_auto = 1 for exposure_time_absolute, "
                         "white_balance_automatic = false for white_balance_temperature)",
                         path, c->name, (long long) value);
        else
                snprintf(error, error_len, "%s: cannot set %s = %lld: %s", path, c->name, (long long) value,
                         strerror(-r));
}

int v4l2_controls_apply(int fd, const char *path, const struct camera_control *cs, unsigned n, char *error,
                        size_t error_len) {
        struct v4l2_control_info info[CAMERA_CONTROLS_MAX];
        bool done[CAMERA_CONTROLS_MAX] = {};
        int r;

        n = MIN(n, (unsigned) CAMERA_CONTROLS_MAX);
        for (unsigned i = 0; i < n; i++) {
                r = v4l2_control_lookup(fd, path, &cs[i], &info[i], error, error_len);
                if (r < 0)
                        return r;
        }
        /* round 0: the switches; 1: the rest; 2: what was refused before, once more */
        for (unsigned round = 0; round < 3; round++)
                for (unsigned i = 0; i < n; i++) {
                        if (done[i] || (round == 0 && !is_switch(info[i].type)))
                                continue;
                        r = control_set(fd, &info[i], cs[i].value);
                        if (r >= 0)
                                done[i] = true;
                        else if (round == 2) {
                                set_failed(fd, path, &info[i], cs[i].value, r, error, error_len);
                                return r;
                        }
                }
        return 0;
}

/* ---- reading back and describing --------------------------------------------------------- */

static bool is_readable(const struct v4l2_control_info *c) {
        return is_settable_type(c->type) && !(c->flags & V4L2_CTRL_FLAG_WRITE_ONLY);
}

int v4l2_controls_read(int fd, char *buf, size_t len) {
        struct v4l2_control_info c = {};
        size_t n = 0;
        int count = 0;
        int64_t v;

        if (len == 0)
                return 0;
        buf[0] = 0;
        while (v4l2_control_next(fd, &c) > 0) {
                if (!is_readable(&c) || v4l2_control_get(fd, &c, &v) < 0)
                        continue;
                int w = snprintf(buf + n, len - n, "%s%s=%lld", n ? "; " : "", c.name, (long long) v);
                if (w < 0 || (size_t) w >= len - n) {
                        buf[n] = 0; /* never half an entry */
                        break;
                }
                n += (size_t) w;
                count++;
        }
        return count;
}

bool v4l2_is_video_device(const char *path) {
        struct stat st;

        return stat(path, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == VIDEO_MAJOR;
}

int v4l2_controls_read_path(const char *path, char *buf, size_t len) {
        int fd, r;

        if (len > 0)
                buf[0] = 0;
        if (!path || !v4l2_is_video_device(path))
                return -ENODEV;
        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = v4l2_controls_read(fd, buf, len);
        close(fd);
        return r;
}

static void describe_menu(int fd, const struct v4l2_control_info *c, FILE *out, const char *indent) {
        char item[64];

        for (int64_t i = MAX(c->minimum, 0); i <= c->maximum && i - c->minimum < 256; i++)
                if (menu_item(fd, c, i, item, sizeof(item)))
                        fprintf(out, "%s    %lld: %s\n", indent, (long long) i, item);
}

static void describe_flags(uint32_t flags, FILE *out) {
        if (flags & V4L2_CTRL_FLAG_READ_ONLY)
                fputs(" read-only", out);
        if (flags & V4L2_CTRL_FLAG_WRITE_ONLY)
                fputs(" write-only", out);
        if (flags & V4L2_CTRL_FLAG_INACTIVE)
                fputs(" inactive", out);
        if (flags & V4L2_CTRL_FLAG_GRABBED)
                fputs(" grabbed", out);
        if (flags & V4L2_CTRL_FLAG_VOLATILE)
                fputs(" volatile", out);
}

int v4l2_controls_describe(int fd, FILE *out, const char *indent) {
        struct v4l2_control_info c = {};
        int n = 0;
        int64_t v;

        while (v4l2_control_next(fd, &c) > 0) {
                fprintf(out, "%s%s (%s)", indent, c.name, type_name(c.type));
                if (c.type == V4L2_CTRL_TYPE_BITMASK)
                        fprintf(out, ": mask=0x%08llx default=0x%08llx", (unsigned long long) (uint32_t) c.maximum,
                                (unsigned long long) (uint32_t) c.default_value);
                else if (is_settable_type(c.type))
                        fprintf(out, ": min=%lld max=%lld step=%lld default=%lld", (long long) c.minimum,
                                (long long) c.maximum, (long long) c.step, (long long) c.default_value);
                if (is_readable(&c) && v4l2_control_get(fd, &c, &v) >= 0)
                        fprintf(out, "%svalue=%lld", is_settable_type(c.type) ? " " : ": ", (long long) v);
                describe_flags(c.flags, out);
                fputc('\n', out);
                if (is_menu(c.type))
                        describe_menu(fd, &c, out, indent);
                n++;
        }
        return n;
}
