/* found next to the link, not next to its target */
