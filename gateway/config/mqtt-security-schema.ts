/**
 * The MQTT security parts of the configuration (issue 10): per-user permissions and TLS on the
 * embedded broker, TLS to an external broker. schema.ts spreads these properties into
 * `mqtt.broker` and `mqtt.external`.
 */

/** Spread into `mqtt.broker` (filled in by the MQTT security work). */
export const BrokerSecurityProperties = {}

/** Spread into `mqtt.external` (filled in by the MQTT security work). */
export const ExternalTlsProperties = {}
