/* SPDX-License-Identifier: MIT */
/*
 * bus-names.h — the names of the D-Bus API, version 1 (docs/dbus-api.md, dbus/org.handrec1.xml):
 * bus name, object paths, interfaces and error names, and those of handrec-offload's
 * org.handrec1.Offload. Shared by handrecd, handrec-offload and handrecctl; no other C file spells
 * them out.
 */
#pragma once

#define BUS_NAME "org.handrec1"
#define MANAGER_PATH "/org/handrec1"
#define MANAGER_INTERFACE "org.handrec1.Manager"
#define HAND_PATH_PREFIX "/org/handrec1/hand/" /* + the hand's name */
#define HAND_INTERFACE "org.handrec1.Hand"

/* handrec-offload (offload/) */
#define OFFLOAD_BUS_NAME "org.handrec1.Offload"
#define OFFLOAD_PATH "/org/handrec1/offload"
#define OFFLOAD_INTERFACE "org.handrec1.Offload"

#define ERROR_NO_SUCH_HAND "org.handrec1.Error.NoSuchHand"
#define ERROR_ALREADY_RECORDING "org.handrec1.Error.AlreadyRecording"
#define ERROR_NOT_RECORDING "org.handrec1.Error.NotRecording"
#define ERROR_DEVICE_UNAVAILABLE "org.handrec1.Error.DeviceUnavailable"
#define ERROR_STORAGE_FULL "org.handrec1.Error.StorageFull"
#define ERROR_STORAGE_UNAVAILABLE "org.handrec1.Error.StorageUnavailable"
#define ERROR_INVALID_OPTION "org.handrec1.Error.InvalidOption"
#define ERROR_NOT_A_TAKE "org.handrec1.Error.NotATake"
#define ERROR_TAKE_IN_USE "org.handrec1.Error.TakeInUse"
#define ERROR_NO_SUCH_EPISODE "org.handrec1.Error.NoSuchEpisode"
