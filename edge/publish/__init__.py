"""Out to building systems: the MQTT publisher (the only paho-mqtt importer) with its outbox drain and
commands, the topic and payload builders, and Home Assistant discovery. May import `edge.core`,
`edge.store` and `edge.pipeline.control`."""
