#!/bin/sh
# The image's primary command: prints what it serves.
echo "serving $(cat /srv/data/motd) from $APP_HOME on port 6379"
