// Types for messages.js (a plain browser module, also imported by the docs tests).
export declare const API_UNREACHABLE: string;
export declare const UPLOAD_INTERRUPTED: string;
export declare function storageRefusal(status: number, body: string | undefined): string;
export declare function sentSummary(sent: number, total: number): string;
