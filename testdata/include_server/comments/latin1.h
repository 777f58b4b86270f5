/* latin1 */
