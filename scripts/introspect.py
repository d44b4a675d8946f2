#!/usr/bin/python3
"""Print the org.handrec1 interfaces of a running handrecd as one introspection XML document
(dbus/org.handrec1.xml is this output; tests/system checks it against the daemon)."""
import subprocess
import sys
import xml.etree.ElementTree as ET

bus = sys.argv[1:] or ["--user"]


def interface(path, name):
    xml = subprocess.run(["busctl", *bus, "introspect", "--xml-interface", "org.handrec1", path],
                         check=True, capture_output=True, text=True).stdout
    root = ET.fromstring(xml)
    for node in root.findall("interface"):
        if node.get("name") == name:
            return node
    raise SystemExit(f"{name} not found at {path}")


root = ET.Element("node")
root.append(ET.Comment(" org.handrec1 API version 1: object /org/handrec1 (Manager) and "
                       "/org/handrec1/hand/<left|right> (Hand). See docs/dbus-api.md. "))
root.append(interface("/org/handrec1", "org.handrec1.Manager"))
root.append(interface("/org/handrec1/hand/right", "org.handrec1.Hand"))
ET.indent(root)
print('<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
      ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">')
print(ET.tostring(root, encoding="unicode"))
