/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-bus.c — handrecctl's side of the bus: which bus to talk to (--user), connecting,
 * building and sending calls to the Manager, and printing why a call failed.
 */
#include <string.h>
#include <systemd/sd-bus.h>

#include "../lib/bus-names.h"
#include "../lib/util.h"
#include "handrecctl.h"

bool arg_user = false;

/* Print why a call failed, in words a person can act on. Return: 1, the exit status. */
int bus_error(const sd_bus_error *e, int r) {
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
            sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                fprintf(stderr, "handrecctl: handrecd is not running on the %s bus; start it with %s.\n",
                        arg_user ? "session" : "system", arg_user ? "handrecd --user" : "systemctl start handrecd");
        else if (sd_bus_error_has_name(e, SD_BUS_ERROR_ACCESS_DENIED))
                fprintf(stderr,
                        "handrecctl: %s\nOnly root and members of group handrec may start and stop takes and see "
                        "the cameras; ask an administrator to run: usermod -aG handrec $USER\n",
                        e->message ?: "access denied");
        else if (e && e->message)
                fprintf(stderr, "handrecctl: %s\n", e->message);
        else
                fprintf(stderr, "handrecctl: %s\n", strerror(-r));
        return 1;
}

/* Return: 0, or 1 (printed). */
int connect_bus(sd_bus **ret) {
        int r = arg_user ? sd_bus_open_user(ret) : sd_bus_open_system(ret);
        if (r < 0) {
                fprintf(stderr, "handrecctl: cannot connect to the %s bus: %s%s\n", arg_user ? "session" : "system",
                        strerror(-r), arg_user ? " (is DBUS_SESSION_BUS_ADDRESS set?)" : "");
                return 1;
        }
        return 0;
}

/* A new call of the Manager's method @member. Return: 0, or 1 (printed). */
int new_call(sd_bus *bus, const char *member, sd_bus_message **ret) {
        int r = sd_bus_message_new_method_call(bus, ret, BUS_NAME, MANAGER_PATH, MANAGER_INTERFACE, member);
        if (r < 0) {
                fprintf(stderr, "handrecctl: cannot build the request: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}

/* Send @m and wait up to @usec (0: sd-bus' default) for @ret_reply. Return: 0, or 1 (printed). */
int call(sd_bus *bus, sd_bus_message *m, uint64_t usec, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = sd_bus_call(bus, m, usec, &error, ret_reply);

        return r < 0 ? bus_error(&error, r) : 0;
}
