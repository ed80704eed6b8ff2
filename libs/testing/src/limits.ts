/**
 * Edge limits for test systems and the chaos topology: far above what the functional tests or
 * a workload of many clients on one loopback host do (the flap test sends 1,000 messages from
 * 3 senders in seconds; latency tests send back to back), so only the tests about limits
 * (auth, fuzz), which pass their own values, meet them.
 */
export const TEST_LIMITS: Record<string, string> = {
  CHAT_SEND_RATE: '1000000',
  CHAT_SEND_BURST: '100000',
  CHAT_CREATE_RATE: '1000000',
  CHAT_CREATE_BURST: '100000',
  CHAT_FRAME_RATE: '100000',
  CHAT_FRAME_BURST: '100000',
  CHAT_MAX_CONNECTIONS_PER_USER: '1000',
};
