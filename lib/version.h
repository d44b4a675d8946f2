/* SPDX-License-Identifier: MIT */
#pragma once
#ifndef HANDREC_VERSION
#define HANDREC_VERSION "0.1.0"
#endif
