// The browser's desktop notifications for alerts (seed 002's `desktop` channel).
export function useDesktopNotifications() {}
