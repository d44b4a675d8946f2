/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-preview-page.c — the page `handrecctl preview` serves at /: every chosen hand side
 * by side, each its live stream (<img src="/stream?hand=NAME">) over its status line, which a
 * small script refreshes every second from /status.json?hand=NAME. One static page, made once
 * at start; no external resource.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/util.h"
#include "handrecctl-preview.h"

static const char page_head[] =
        "<!doctype html>\n"
        "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width\">\n"
        "<title>handrecd preview: @NAMES@</title>\n"
        "<style>\n"
        "body { margin: 0; padding: 12px; background: #202020; color: #e8e8e8; font: 14px/1.4 monospace; }\n"
        "h1 { font-size: 14px; font-weight: normal; margin: 0 0 10px; color: #a0a0a0; }\n"
        "main { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }\n"
        "figure { margin: 0; }\n"
        "img { display: block; background: #000; }\n"
        "figcaption { padding-top: 6px; white-space: pre-wrap; }\n"
        ".ended { color: #ff8080; }\n"
        "</style>\n</head>\n<body>\n"
        "<h1>handrecd preview: @NAMES@ &mdash; the stream of each hand, its status line every second</h1>\n<main>\n";

static const char page_hand[] =
        "<figure>\n"
        "<img id=\"image-@HAND@\" src=\"/stream?hand=@HAND@\" alt=\"the cameras of the @HAND@ hand\">\n"
        "<figcaption id=\"status-@HAND@\">@HAND@: waiting for the first status</figcaption>\n"
        "</figure>\n";

static const char page_tail[] =
        "</main>\n<script>\n"
        "const hands = [@QUOTED@];\n"
        "function show(hand, text, ended) {\n"
        "  const e = document.getElementById('status-' + hand);\n"
        "  e.textContent = text;\n"
        "  e.className = ended ? 'ended' : '';\n"
        "}\n"
        "function refresh() {\n"
        "  for (const hand of hands)\n"
        "    fetch('/status.json?hand=' + hand, {cache: 'no-store'})\n"
        "      .then(r => r.json())\n"
        "      .then(s => show(hand, s.line + (s.warnings ? '\\nquality: ' + s.warnings : '') +\n"
        "                       (s.last_error ? '\\nlast error: ' + s.last_error : '') + '\\n' + s.preview +\n"
        "                       (s.ended ? ': the preview has ended' : ''), s.ended))\n"
        "      .catch(() => show(hand, hand + ': handrecctl preview is not answering', true));\n"
        "}\n"
        "refresh();\n"
        "setInterval(refresh, 1000);\n"
        "</script>\n</body>\n</html>\n";

/* Write @tmpl to @f with every @KEY@ of it replaced by @value (the templates hold no other '@'). */
static void put_template(FILE *f, const char *tmpl, const char *key, const char *value) {
        size_t key_len = strlen(key);
        const char *p;

        while ((p = strstr(tmpl, key))) {
                fwrite(tmpl, 1, p - tmpl, f);
                fputs(value, f);
                tmpl = p + key_len;
        }
        fputs(tmpl, f);
}

/* Return: a string the caller frees, or NULL. Hand names are plain words (checked by the caller). */
char *preview_page(const struct feed *feeds, unsigned n) {
        char names[128] = "", quoted[128] = "";
        char *page = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&page, &size);

        if (!f)
                return NULL;
        for (unsigned i = 0; i < n; i++) {
                snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "", feeds[i].hand);
                snprintf(quoted + strlen(quoted), sizeof(quoted) - strlen(quoted), "%s'%s'", i ? ", " : "",
                         feeds[i].hand);
        }
        put_template(f, page_head, "@NAMES@", names);
        for (unsigned i = 0; i < n; i++)
                put_template(f, page_hand, "@HAND@", feeds[i].hand);
        put_template(f, page_tail, "@QUOTED@", quoted);
        if (fclose(f) != 0) {
                free(page);
                return NULL;
        }
        return page;
}

/* @s as the inside of a JSON string; <, > and & escaped too. Return: @buf. */
char *json_escape(const char *s, char *buf, size_t len) {
        size_t o = 0;

        for (; *s && o + 7 < len; s++) {
                unsigned char ch = *s;
                if (ch < 0x20 || ch == '"' || ch == '\\' || ch == '<' || ch == '>' || ch == '&')
                        o += snprintf(buf + o, len - o, "\\u%04x", ch);
                else
                        buf[o++] = ch;
        }
        buf[o] = 0;
        return buf;
}
