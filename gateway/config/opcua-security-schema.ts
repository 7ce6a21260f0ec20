/**
 * The OPC-UA security parts of the configuration (issue 10): a server's security policy, mode
 * and user identity, and the client's PKI. schema.ts spreads these properties into
 * `opcua.servers[]` and `opcua`.
 */

/** Spread into each `opcua.servers[]` entry (filled in by the OPC-UA security work). */
export const OpcuaServerSecurityProperties = {}

/** Spread into the `opcua` section (filled in by the OPC-UA security work). */
export const OpcuaPkiProperties = {}
