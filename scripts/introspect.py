#!/usr/bin/python3
"""Print the interfaces of a running handrecd (org.handrec1) as one introspection XML document,
or with --offload those of a running handrec-offload (org.handrec1.Offload). dbus/org.handrec1.xml
and dbus/org.handrec1.Offload.xml are this output; the integration tests check them against the
programs. Other arguments go to busctl (default --user)."""
import subprocess
import sys
import xml.etree.ElementTree as ET

args = sys.argv[1:]
offload = "--offload" in args
bus = [a for a in args if a != "--offload"] or ["--user"]


def interface(service, path, name):
    xml = subprocess.run(["busctl", *bus, "introspect", "--xml-interface", service, path],
                         check=True, capture_output=True, text=True).stdout
    root = ET.fromstring(xml)
    for node in root.findall("interface"):
        if node.get("name") == name:
            return node
    raise SystemExit(f"{name} not found at {path}")


root = ET.Element("node")
if offload:
    root.append(ET.Comment(" org.handrec1.Offload (handrec-offload) version 1: object /org/handrec1/offload. "
                           "See docs/dbus-api.md. "))
    root.append(interface("org.handrec1.Offload", "/org/handrec1/offload", "org.handrec1.Offload"))
else:
    root.append(ET.Comment(" org.handrec1 API version 1: object /org/handrec1 (Manager) and "
                           "/org/handrec1/hand/<left|right> (Hand). See docs/dbus-api.md. "))
    root.append(interface("org.handrec1", "/org/handrec1", "org.handrec1.Manager"))
    root.append(interface("org.handrec1", "/org/handrec1/hand/right", "org.handrec1.Hand"))
ET.indent(root)
print('<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
      ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">')
print(ET.tostring(root, encoding="unicode"))
