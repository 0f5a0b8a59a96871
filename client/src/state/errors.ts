/** Turn anything thrown by the API layer into words for a person. */
import { ApiError, NetworkError } from "@/api/client";

export interface Problem {
  title: string;
  message: string;
  /** The contract's error code, when the server sent one. */
  code: string | null;
}

export function describeError(e: unknown): Problem {
  if (e instanceof NetworkError) {
    return { title: "API down", message: e.message, code: null };
  }
  if (e instanceof ApiError) {
    const title =
      e.code === "weights_unavailable"
        ? "Model missing"
        : e.code === "model_mismatch"
          ? "Model mismatch"
          : e.code === "store_locked"
            ? "Library busy"
            : e.code === "overloaded" || e.status === 429
              ? "Server busy"
              : e.code === "invalid_input" || e.status === 422
                ? "Invalid query"
                : e.code === "payload_too_large" || e.status === 413
                  ? "Image too large"
                  : e.code === "unsupported_media" || e.status === 415
                    ? "Not an image"
                    : e.status === 404
                      ? "Not found"
                      : e.status >= 500
                        ? "Server error"
                        : "Request failed";
    return { title, message: e.message, code: e.code };
  }
  if (e instanceof Error) return { title: "Something went wrong", message: e.message, code: null };
  return { title: "Something went wrong", message: String(e), code: null };
}
